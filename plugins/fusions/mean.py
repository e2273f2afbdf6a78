"""Mean fusion: the views' states averaged with equal weights (torch-free registration)."""

from workbench.kinds import PluginSpec

SPECS = [PluginSpec(
    name="mean", kind="fusion", factory="workbench_plugins.fusions.identity_impl:MeanFusion",
    description="Averages the states of all views with equal weights.",
    default_for=("fusion.views",))]
