"""Identity fusion: the single view's states unchanged (torch-free registration)."""

from workbench.kinds import PluginSpec

SPECS = [PluginSpec(
    name="identity", kind="fusion", factory="workbench_plugins.fusions.identity_impl:IdentityFusion",
    description="Passes the single view's states through unchanged (exactly one view).",
    default_for=("fusion.one_view",))]
