"""Gated multimodal unit fusion (torch-free spec)."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.kinds import PluginSpec
from workbench.options import option


@dataclass
class GMUOptions:
    dropout: float = option(0.1, help="dropout on the fused state", min=0.0, max=0.9)
    norm: bool = option(True, help="LayerNorm on the fused state: the tanh units keep it small, which slows "
                                   "a dot-product head (the other fusions normalise too)")


SPECS = [PluginSpec(
    name="gmu", kind="fusion", factory="workbench_plugins.fusions.gmu_impl:GMUFusion",
    options=GMUOptions,
    description=("Gated multimodal unit (Arevalo et al. 2017) for V views: h_k = tanh(W_k s_k), "
                 "gates z = softmax(W_z [s_1..s_V]) per position; the gates are the per-view weights."))]
