"""The built-in plugins as a whole: every factory string resolves; the defaults an experiment
falls back to and the workspace tables plugins keep are declared by plugins (the core names none).
(That every hook is documented in docs/plugins.md: tests/test_plugins.py.)"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from workbench.kinds import DEFAULT_ROLES, KINDS, PluginSpec
from workbench.plugins import BUILTIN_DISTRIBUTION, Registry

@pytest.fixture(scope="module")
def builtins():
    import os

    old = os.environ.get("WORKBENCH_LOAD_PLUGINS")
    os.environ["WORKBENCH_LOAD_PLUGINS"] = BUILTIN_DISTRIBUTION
    try:
        registry = Registry()
        registry.load_entry_points()
    finally:
        if old is None:
            os.environ.pop("WORKBENCH_LOAD_PLUGINS", None)
        else:
            os.environ["WORKBENCH_LOAD_PLUGINS"] = old
    assert not registry.errors, registry.errors
    return registry


def test_every_builtin_factory_string_resolves_and_imports(builtins):
    specs = [spec for kind in KINDS for spec in builtins.specs[kind].values()]
    assert len(specs) >= 30
    for spec in specs:
        assert isinstance(spec.factory, str) and re.fullmatch(r"workbench_plugins\.[\w.]+:\w+", spec.factory), \
            f"{spec.kind} {spec.name}: factory {spec.factory!r} is not a dotted path into workbench_plugins"
        impl = spec.load()
        assert inspect.isclass(impl), f"{spec.kind} {spec.name}: {spec.factory} is not a class"


def test_defaults_come_from_the_plugins_that_claim_them(builtins):
    assert builtins.defaults("fusion.one_view") == ["identity"]
    assert builtins.defaults("fusion.views") == ["mean"]
    assert builtins.defaults("evaluators") == ["ranking", "coverage", "novelty"]
    for role, (kind, _) in DEFAULT_ROLES.items():
        assert all(role in builtins.get(kind, n).default_for for n in builtins.defaults(role))


def test_a_default_role_must_exist_and_fit_the_kind():
    with pytest.raises(ValueError, match="fusion.one_view"):
        PluginSpec(name="x", kind="fusion", factory="m:X", default_for=("fusion.single",))
    with pytest.raises(ValueError, match="default_for"):
        PluginSpec(name="x", kind="head", factory="m:X", default_for=("evaluators",))
    with pytest.raises(ValueError, match="default_for"):
        PluginSpec(name="x", kind="evaluator", factory="m:X", default_for="evaluators")


def test_the_core_names_no_builtin_plugin():
    """Defaults live with the plugins: the engine's config and evaluation code name none of them."""
    root = Path(__file__).resolve().parents[1] / "workbench"
    builtin_names = {"identity", "mean", "ranking", "coverage", "novelty"}
    for path in (root / "engine" / "config.py", root / "engine" / "evaluate.py"):
        quoted = set(re.findall(r"[\"'](\w+)[\"']", path.read_text()))
        assert not quoted & builtin_names, f"{path.name} names {sorted(quoted & builtin_names)}"


def test_plugin_tables_are_declared_by_plugins_and_made_on_first_use(builtins, tmp_path):
    """The core schema holds no plugin's table: a new workspace has no text cache until the text
    view asks for it; a name no plugin registered is refused."""
    from workbench.store import open_workspace
    from workbench.store.plugin_tables import plugin_table

    assert builtins.table_owner == {"text_embeddings": "views"}
    with open_workspace(tmp_path / "w.db", create=True) as ws:
        core = set(ws.db.table_names())
        assert not core & set(builtins.tables)
        assert plugin_table(ws, "text_embeddings", builtins) == "text_embeddings"
        assert "text_embeddings" in ws.db.table_names()
        assert plugin_table(ws, "text_embeddings", builtins) == "text_embeddings"   # again: nothing to do
        with pytest.raises(KeyError, match="no plugin registered a workspace table named 'nope'"):
            plugin_table(ws, "nope", builtins)
    with open_workspace(tmp_path / "w.db") as ws:                   # it lasts (not rolled back)
        assert "text_embeddings" in ws.db.table_names()
