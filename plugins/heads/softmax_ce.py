"""Full softmax cross-entropy head (options and registration; torch-free)."""

from dataclasses import dataclass

from workbench.kinds import PluginSpec
from workbench.options import option


@dataclass
class SoftmaxCEOptions:
    chunk_size: int = option(512, help="positions per chunk of the fused CE (logits, softmax and gradients "
                                       "chunk by chunk, the (P, N) logits never stored); 0: plain autograd "
                                       "cross-entropy over one (P, N) logits matrix", min=0)
    label_smoothing: float = option(0.0, help="cross-entropy label smoothing", min=0.0, max=0.5)


SPECS = [PluginSpec(
    name="softmax_ce", kind="head", factory="workbench_plugins.heads.softmax_ce_impl:SoftmaxCEHead",
    options=SoftmaxCEOptions,
    description="Cross-entropy over all items at every position with a target (dot-product scores).")]
