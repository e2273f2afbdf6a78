"""BPR head (options and registration; torch-free)."""

from dataclasses import dataclass

from workbench.kinds import PluginSpec
from workbench.options import option


@dataclass
class BPROptions:
    negatives: int = option(1, help="uniform negatives per target position (losses averaged)", min=1)


SPECS = [PluginSpec(
    name="bpr", kind="head", factory="workbench_plugins.heads.bpr_impl:BPRHead", options=BPROptions,
    description="Bayesian personalised ranking: -log sigmoid(s(target) - s(negative)).")]
