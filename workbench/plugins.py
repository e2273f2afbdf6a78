"""The plugin manager: built-ins and third-party plugins load through entry points.

Every plugin is a module registered under the ``workbench`` entry-point group,
the built-ins included (see pyproject.toml). A plugin that fails to import, or
whose hook raises, is recorded in :func:`load_errors` and skipped; the rest of
Workbench keeps working.

``WORKBENCH_LOAD_PLUGINS`` narrows what loads: a comma-separated list of
entry-point names (``readers,views``) or distribution names; an empty string
loads none. Unset loads all.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import sys
import traceback
from dataclasses import dataclass

import pluggy

from workbench import hookspecs
from workbench.kinds import DEFAULT_ROLES, KINDS, PluginSpec, TableSpec

GROUP = "workbench"
ENV_LOAD = "WORKBENCH_LOAD_PLUGINS"
BUILTIN_DISTRIBUTION = "seqrec-workbench"

_HOOK_BY_KIND = {
    "view": "register_views",
    "fusion": "register_fusions",
    "head": "register_heads",
    "evaluator": "register_evaluators",
    "reader": "register_readers",
}


# What a plugin's import or hook may raise without taking Workbench down with it: any error, and
# also sys.exit() and a KeyboardInterrupt raised by its code (recorded like any broken plugin).
PLUGIN_FAILURES = (Exception, SystemExit, KeyboardInterrupt)


@dataclass
class LoadError:
    plugin: str
    package: str
    error: str
    traceback: str


@dataclass
class LoadedPlugin:
    name: str
    module: str
    package: str
    version: str
    builtin: bool


class Registry:
    """All registered :class:`PluginSpec` objects, by kind and name, plus load errors."""

    def __init__(self):
        self.pm = pluggy.PluginManager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: list[LoadedPlugin] = []
        self.errors: list[LoadError] = []
        self.specs: dict[str, dict[str, PluginSpec]] = {k: {} for k in KINDS}
        self.owner: dict[tuple[str, str], str] = {}
        self.tables: dict[str, TableSpec] = {}          # workspace tables plugins keep (register_tables)
        self.table_owner: dict[str, str] = {}

    # -------------------------------------------------------------- loading
    def load_entry_points(self) -> None:
        allowed = os.environ.get(ENV_LOAD)
        allow = None if allowed is None else {a.strip() for a in allowed.split(",") if a.strip()}
        # Built-ins first, so a third-party plugin cannot take a built-in's name; then by name.
        def order(ep):
            return (ep.dist is None or ep.dist.name != BUILTIN_DISTRIBUTION, ep.name)

        for ep in sorted(md.entry_points(group=GROUP), key=order):
            dist = ep.dist.name if ep.dist is not None else "?"
            version = ep.dist.version if ep.dist is not None else "?"
            if allow is not None and ep.name not in allow and dist not in allow:
                continue
            try:
                module = ep.load()
            except PLUGIN_FAILURES as e:  # a broken plugin must not break Workbench
                self.errors.append(LoadError(ep.name, dist, f"{type(e).__name__}: {e}", traceback.format_exc()))
                continue
            self.register_module(module, ep.name, dist, version)

    def register_module(self, module, name: str, package: str = "?", version: str = "?") -> None:
        if self.pm.is_registered(module):
            return
        try:
            self.pm.register(module, name=name)
        except PLUGIN_FAILURES as e:
            self.errors.append(LoadError(name, package, f"{type(e).__name__}: {e}", traceback.format_exc()))
            return
        self.plugins.append(LoadedPlugin(name, module.__name__, package, version,
                                         builtin=package == BUILTIN_DISTRIBUTION))
        self._collect(name, module, package)
        self._collect_tables(name, module, package)

    def _call_hook(self, impl, arg, name: str, package: str, hook_name: str) -> bool:
        """Call one hook implementation with ``arg`` for each of its parameters; a hook that fails
        is recorded as a load error of the plugin (False), the rest of Workbench goes on."""
        try:
            impl.function(**{a: arg for a in impl.argnames})
        except PLUGIN_FAILURES as e:  # a broken plugin must not break Workbench
            self.errors.append(LoadError(name, package, f"{hook_name}: {type(e).__name__}: {e}",
                                         traceback.format_exc()))
            return False
        return True

    def _collect_tables(self, name: str, module, package: str) -> None:
        """Call the plugin's ``register_tables`` hook (if any) and keep its table specs."""
        for impl in self.pm.hook.register_tables.get_hookimpls():
            if impl.plugin is not module:
                continue
            collected: list[TableSpec] = []

            def register(spec: TableSpec, _out=collected) -> None:
                if not isinstance(spec, TableSpec):
                    raise TypeError(f"register() expects a TableSpec, got {spec!r}")
                _out.append(spec)

            if not self._call_hook(impl, register, name, package, "register_tables"):
                continue
            for spec in collected:
                if spec.name in self.tables:
                    self.errors.append(LoadError(name, package, f"table {spec.name!r} already registered by "
                                                 f"{self.table_owner[spec.name]}; skipped", ""))
                    continue
                self.tables[spec.name] = spec
                self.table_owner[spec.name] = name

    def _collect(self, name: str, module, package: str) -> None:
        """Call each kind hook the plugin implements (as pluggy registered it) and keep its specs."""
        for kind, hook_name in _HOOK_BY_KIND.items():
            impls = [i for i in getattr(self.pm.hook, hook_name).get_hookimpls() if i.plugin is module]
            for impl in impls:
                collected: list[PluginSpec] = []

                def register(spec: PluginSpec, _kind=kind, _out=collected, _hook=hook_name) -> None:
                    if not isinstance(spec, PluginSpec):
                        raise TypeError(f"register() expects a PluginSpec, got {spec!r}")
                    if spec.kind != _kind:
                        raise ValueError(f"{_hook} registered a {spec.kind!r} ({spec.name}); "
                                         f"use register_{spec.kind}s for that")
                    _out.append(spec)

                if not self._call_hook(impl, register, name, package, hook_name):
                    continue
                for spec in collected:
                    if spec.name in self.specs[kind]:
                        other = self.owner[(kind, spec.name)]
                        self.errors.append(LoadError(
                            name, package, f"{kind} {spec.name!r} already registered by {other}; skipped", ""))
                        continue
                    self.specs[kind][spec.name] = spec
                    self.owner[(kind, spec.name)] = name

    def add_commands(self, cli) -> None:
        """Call every plugin's ``register_commands(cli)``; one that raises is recorded and skipped."""
        for impl in self.pm.hook.register_commands.get_hookimpls():
            plugin_name = self.pm.get_name(impl.plugin) or "?"
            try:
                impl.function(**{arg: cli for arg in impl.argnames})
            except PLUGIN_FAILURES as e:
                package = next((p.package for p in self.plugins if p.name == plugin_name), "?")
                self.errors.append(LoadError(plugin_name, package, f"register_commands: {type(e).__name__}: {e}",
                                             traceback.format_exc()))

    # -------------------------------------------------------------- queries
    def get(self, kind: str, name: str) -> PluginSpec:
        try:
            return self.specs[kind][name]
        except KeyError:
            known = ", ".join(sorted(self.specs.get(kind, {}))) or "none installed"
            raise KeyError(f"no {kind} plugin named {name!r} (installed: {known})") from None

    def names(self, kind: str) -> list[str]:
        return sorted(self.specs[kind])

    def defaults(self, role: str) -> list[str]:
        """Names of the plugins that claim ``role`` (see :data:`workbench.kinds.DEFAULT_ROLES`),
        in registration order (built-ins first): what an experiment gets where it names none."""
        kind = DEFAULT_ROLES[role][0]
        return [name for name, spec in self.specs[kind].items() if role in spec.default_for]

    def describe(self) -> list[dict]:
        """One record per loaded plugin module: name, kinds, what it provides, package, version, builtin."""
        out = []
        for p in self.plugins:
            provides = {k: sorted(n for (kk, n), owner in self.owner.items() if kk == k and owner == p.name)
                        for k in KINDS}
            provides = {k: v for k, v in provides.items() if v}
            out.append({
                "name": p.name, "module": p.module, "kinds": sorted(provides), "provides": provides,
                "package": p.package, "version": p.version, "builtin": p.builtin,
            })
        return out


_registry: Registry | None = None


def get_registry(reload: bool = False) -> Registry:
    """The process-wide registry, loaded on first use."""
    global _registry
    if _registry is None or reload:
        reg = Registry()
        reg.load_entry_points()
        _registry = reg
        for err in reg.errors:
            print(f"workbench: plugin {err.plugin!r} ({err.package}) skipped: {err.error}", file=sys.stderr)
    return _registry
