"""Sampled softmax head with logQ correction (options and registration; torch-free)."""

from dataclasses import dataclass

from workbench.kinds import PluginSpec
from workbench.options import option


@dataclass
class SampledSoftmaxOptions:
    negatives: int = option(256, help="negatives shared by all positions of a batch", min=1)
    sampler: str = option("uniform", help="proposal distribution Q of the negatives",
                          choices=["uniform", "popularity"])
    logq: bool = option(True, help="subtract log Q(i) from every logit (sampling-bias correction)")


SPECS = [PluginSpec(
    name="sampled_softmax", kind="head", factory="workbench_plugins.heads.sampled_softmax_impl:SampledSoftmaxHead",
    options=SampledSoftmaxOptions,
    description="Softmax over the target plus N sampled negatives, logQ-corrected.")]
