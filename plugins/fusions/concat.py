"""Concatenation + projection fusion (torch-free spec)."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.kinds import PluginSpec
from workbench.options import option


@dataclass
class ConcatOptions:
    dropout: float = option(0.1, help="dropout on the fused state", min=0.0, max=0.9)


SPECS = [PluginSpec(
    name="concat", kind="fusion", factory="workbench_plugins.fusions.concat_impl:ConcatFusion",
    options=ConcatOptions,
    description=("Concatenates the V view states and projects them back to d. Per-view weights are each "
                 "view's share of the projected output norm at each position."))]
