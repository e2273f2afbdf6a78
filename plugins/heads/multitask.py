"""Multi-task head: next item + next action type (torch-free spec)."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.kinds import PluginSpec
from workbench.options import option


@dataclass
class MultitaskOptions:
    item_weight: float = option(1.0, help="weight of the next-item cross-entropy", min=0.0)
    action_weight: float = option(0.5, help="weight of the next-action cross-entropy", min=0.0)
    positive_action: str = option("purchase", help="action scored by the binary metrics (AUC, F1 of "
                                                   "'will the next event be this action')")

    def metric_names(self) -> list[str]:
        """The auxiliary validation metrics of the action task (see MultitaskHead.eval_metrics)."""
        return ["action_accuracy", "action_macro_f1", f"{self.positive_action}_auc", f"{self.positive_action}_f1"]


SPECS = [PluginSpec(
    name="multitask", kind="head", factory="workbench_plugins.heads.multitask_impl:MultitaskHead",
    options=MultitaskOptions,
    description=("Multi-task head. Next item by full softmax cross-entropy over the item table, plus the next "
                 "event's action type (batch.target_actions) by cross-entropy; loss weights configurable. "
                 "action_metrics() gives accuracy and macro F1 of the action task, and AUC / F1 of "
                 "'next action == positive_action'."))]
