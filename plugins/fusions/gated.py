"""Gated residual fusion: a base view plus zero-initialised, learned gates on the others (torch-free spec)."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.kinds import PluginSpec
from workbench.options import option


@dataclass
class GatedOptions:
    base_view: int = option(0, help="index (0-based, in config order) of the view the others are added to", min=0)
    gate_init: float = option(0.0, help="initial value of every gate (0: the model starts as the base view alone)")
    item_gates: bool = option(True, help="also gate the item vectors the other views offer to the head "
                                         "(false: they are summed as with the other fusions)")


SPECS = [PluginSpec(
    name="gated", kind="fusion", factory="workbench_plugins.fusions.gated_impl:GatedFusion",
    options=GatedOptions,
    description=("fused = s_base + sum_k g_k * W_k s_k over the other views, with a learned per-dimension gate "
                 "g_k that starts at zero, so training begins from the base view alone (e.g. ID SASRec) and a "
                 "view only enters where it helps; item vectors offered by the other views are gated the "
                 "same way. Per-view weights: each view's share of the contribution norms."))]
