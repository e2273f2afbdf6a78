"""Identity fusion (one view) and mean fusion (several views); torch-free registration."""

from workbench.kinds import PluginSpec

SPECS = [
    PluginSpec(name="identity", kind="fusion", factory="workbench_plugins.fusions.identity_impl:IdentityFusion",
               description="Passes the single view's states through unchanged (exactly one view)."),
    PluginSpec(name="mean", kind="fusion", factory="workbench_plugins.fusions.identity_impl:MeanFusion",
               description="Averages the states of all views with equal weights."),
]
