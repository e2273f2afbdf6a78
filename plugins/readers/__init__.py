"""Built-in reader plugins (the layout of a plugin package: see ``workbench_plugins``)."""

from workbench_plugins._registration import register_package

register_readers = register_package(__name__, "reader")
