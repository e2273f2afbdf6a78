"""The built-in plugins as a whole: every factory string resolves, every hook is documented,
the defaults an experiment falls back to are declared by plugins (the core names none)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from workbench import hookspecs
from workbench.kinds import DEFAULT_ROLES, KINDS, PluginSpec
from workbench.plugins import BUILTIN_DISTRIBUTION, Registry

DOCS = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


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


def test_every_hook_is_documented_in_docs_plugins_md():
    text = DOCS.read_text()
    hooks = [name for name, fn in vars(hookspecs).items()
             if callable(fn) and hasattr(fn, "workbench_spec")]
    assert len(hooks) >= 6
    undocumented = [h for h in hooks if not re.search(rf"^### `{h}\(", text, re.M)]
    assert not undocumented, f"hooks without a '### `name(...)`' section in docs/plugins.md: {undocumented}"


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
