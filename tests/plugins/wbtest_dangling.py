"""A view whose factory names a module that is not installed (a packaging mistake)."""

from __future__ import annotations

from workbench.hookspecs import hookimpl
from workbench.kinds import PluginSpec


@hookimpl
def register_views(register):
    register(PluginSpec(name="wbtest_dangling", kind="view", factory="wbtest_module_that_is_missing:View",
                        description="its implementation module is missing"))
