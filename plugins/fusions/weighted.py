"""Learned weighted-average fusion (torch-free spec)."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.kinds import PluginSpec
from workbench.options import option


@dataclass
class WeightedOptions:
    initial: list[float] | None = option(None, help="initial weights per view (default equal); softmax-normalised")
    temperature: float = option(1.0, help="softmax temperature of the view weights", min=0.01)


SPECS = [PluginSpec(
    name="weighted", kind="fusion", factory="workbench_plugins.fusions.weighted_impl:WeightedFusion",
    options=WeightedOptions,
    description="Weighted average of the view states with learned softmax weights (one weight per view).")]
