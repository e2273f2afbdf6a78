"""A plugin whose evaluator hook raises; its reader hook works."""

from workbench.hookspecs import hookimpl
from workbench.kinds import PluginSpec


@hookimpl
def register_evaluators(register):
    raise RuntimeError("wbtest: evaluator table is corrupt")


@hookimpl
def register_readers(register):
    register(PluginSpec(name="wbtest_survivor", kind="reader", factory="wbtest_good:UserItemLinesReader"))


@hookimpl
def register_commands(cli):
    raise RuntimeError("wbtest: cannot add my command")
