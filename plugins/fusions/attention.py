"""Attention over views per position (torch-free spec)."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.kinds import PluginSpec
from workbench.options import option


@dataclass
class AttentionOptions:
    query_view: int = option(0, help="index (0-based, in config order) of the view that forms the query", min=0)
    residual: bool = option(True, help="add the query view's state to the attended mix")
    dropout: float = option(0.1, help="dropout on the fused state", min=0.0, max=0.9)


SPECS = [PluginSpec(
    name="attention", kind="fusion", factory="workbench_plugins.fusions.attention_impl:AttentionFusion",
    options=AttentionOptions,
    description=("Per position, a query from one chosen view attends over all view states (scaled dot "
                 "product); the attention weights are the per-view weights."))]
