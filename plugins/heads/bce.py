"""Binary cross-entropy head with sampled negatives (original SASRec); torch-free registration."""

from dataclasses import dataclass

from workbench.kinds import PluginSpec
from workbench.options import option


@dataclass
class BCEOptions:
    negatives: int = option(1, help="uniform negatives per target position", min=1)


SPECS = [PluginSpec(
    name="bce", kind="head", factory="workbench_plugins.heads.bce_impl:BCEHead", options=BCEOptions,
    description="Binary cross-entropy: target vs. uniformly sampled negatives at each position (SASRec).")]
