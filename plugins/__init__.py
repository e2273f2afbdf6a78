"""Workbench's built-in plugins (installed as ``workbench_plugins``).

Each subpackage is registered under the ``workbench`` entry-point group in
pyproject.toml, exactly as a third-party plugin package registers its modules.
"""
