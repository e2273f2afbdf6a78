"""Workspace tables that plugins keep for themselves (declared with the ``register_tables`` hook).

The core schema lives in :mod:`workbench.store.migrations` and names no plugin's table; a
plugin's table is created here, if missing, the first time the plugin asks for it.
"""

from __future__ import annotations


def plugin_table(ws, name: str, registry=None) -> str:
    """Make sure the plugin table ``name`` exists in workspace ``ws``; returns the name.

    ``name`` must have been registered by a plugin (``register_tables``). The
    ``CREATE TABLE IF NOT EXISTS`` runs once per open workspace; outside a transaction
    it takes effect at once (sqlite3 opens no transaction for DDL), inside the
    caller's it commits with it."""
    if registry is None:
        from workbench.plugins import get_registry
        registry = get_registry()
    spec = registry.tables.get(name)
    if spec is None:
        known = ", ".join(sorted(registry.tables)) or "none"
        raise KeyError(f"no plugin registered a workspace table named {name!r} (registered: {known})")
    created = ws.__dict__.setdefault("_plugin_tables", set())
    if name not in created:
        ws.db.execute(f"CREATE TABLE IF NOT EXISTS {spec.name} ({spec.columns})")
        created.add(name)
    return name
