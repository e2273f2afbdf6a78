"""Action-type view: embeds the behaviour type of each event (torch-free spec)."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.kinds import PluginSpec
from workbench.options import option


@dataclass
class ActionOptions:
    with_items: bool = option(True, help="combine the action with the item (item-action interaction) "
                                         "instead of the action alone")
    context_window: int = option(10, help="events averaged into each state (0 = whole history)", min=0)
    dropout: float = option(0.1, help="dropout on the output states", min=0.0, max=0.9)


SPECS = [PluginSpec(
    name="action", kind="view", factory="workbench_plugins.views.action_impl:ActionView", options=ActionOptions,
    description=("Action-type view. Reads batch.actions (view, click, cart, purchase, ... as imported; 0 = none) "
                 "and optionally the items: each event is embedded as action (x item) and the state is that "
                 "event plus the mean of the recent ones (causal). Without action data every event has "
                 "action 'none'."))]
