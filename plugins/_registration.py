"""The hook implementations every built-in plugin package uses (one place, not five copies)."""

from __future__ import annotations

from workbench.hookspecs import hookimpl
from workbench.kinds import specs_from_package, tables_from_package


def register_package(package: str, kind: str, first: tuple[str, ...] = ()):
    """A ``register_<kind>s`` hook implementation that registers the ``SPECS`` of every
    torch-free module of ``package`` (see :func:`workbench.kinds.specs_from_package`);
    the modules named in ``first`` register before the others. Assign it to a module
    attribute named after the hook: ``register_views = register_package(__name__, "view")``."""

    @hookimpl(specname=f"register_{kind}s")
    def register_specs(register):
        for spec in specs_from_package(package, kind, first):
            register(spec)

    return register_specs


def register_package_tables(package: str):
    """A ``register_tables`` hook implementation that registers the ``TABLES`` (workspace tables,
    :class:`workbench.kinds.TableSpec`) of the torch-free modules of ``package``."""

    @hookimpl(specname="register_tables")
    def register_tables(register):
        for spec in tables_from_package(package):
            register(spec)

    return register_tables
