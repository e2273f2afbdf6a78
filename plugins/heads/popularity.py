"""Popularity baseline head: every user gets the most-interacted training items."""

from __future__ import annotations

from workbench.kinds import PluginSpec

SPECS = [PluginSpec(
    name="popularity", kind="head", factory="workbench_plugins.heads.popularity_impl:PopularityHead",
    options=None,
    description="Baseline (not trained): scores each item by its training interaction count")]
