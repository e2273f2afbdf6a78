"""Built-in view plugins (the layout of a plugin package: see ``workbench_plugins``)."""

from workbench_plugins._registration import register_package, register_package_tables

register_views = register_package(__name__, "view")
register_tables = register_package_tables(__name__)   # the text view's embedding cache
