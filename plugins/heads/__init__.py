"""Built-in head plugins (the layout of a plugin package: see ``workbench_plugins``)."""

from workbench_plugins._registration import register_package

register_heads = register_package(__name__, "head")
