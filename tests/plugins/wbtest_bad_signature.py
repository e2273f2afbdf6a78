"""A hook implementation whose arguments do not match the hook spec (pluggy refuses it)."""

from workbench.hookspecs import hookimpl


@hookimpl
def register_views(callback):
    callback(None)
