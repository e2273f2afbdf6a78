"""Plugins that register wrongly: a head through the view hook, a non-spec, a duplicate name."""

from workbench.hookspecs import hookimpl
from workbench.kinds import PluginSpec


@hookimpl
def register_views(register):
    register(PluginSpec(name="wbtest_misfiled", kind="head", factory="wbtest_good_impl:DotHead"))


@hookimpl
def register_fusions(register):
    register({"name": "wbtest_dict", "kind": "fusion"})


@hookimpl
def register_evaluators(register):
    register(PluginSpec(name="wbtest_hit", kind="evaluator", factory="wbtest_good:HitAtK"))
