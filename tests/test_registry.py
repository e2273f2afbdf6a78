"""The plugin registry with real plugin modules behind real entry points: one test per hook,
broken plugins isolated, WORKBENCH_LOAD_PLUGINS."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from workbench.kinds import PluginSpec, Rankings
from workbench.plugins import Registry

GOOD = {"wbtest-good": {"wbtest_good": "wbtest_good"}}


def load(monkeypatch, allow: str | None = None) -> Registry:
    if allow is None:
        monkeypatch.delenv("WORKBENCH_LOAD_PLUGINS", raising=False)
    else:
        monkeypatch.setenv("WORKBENCH_LOAD_PLUGINS", allow)
    registry = Registry()
    registry.load_entry_points()
    return registry


def errors_of(registry: Registry, plugin: str) -> list[str]:
    return [e.error for e in registry.errors if e.plugin == plugin]


# ---------------------------------------------------------------- one test per hook
def test_hook_register_readers(plugin_site, monkeypatch, tmp_path):
    from workbench.data.demo import DemoSpec, generate

    plugin_site(GOOD)
    registry = load(monkeypatch, "wbtest_good")
    assert registry.names("reader") == ["wbtest_lines"]
    reader_cls = registry.get("reader", "wbtest_lines").load()
    # 300 demo events in the layout of SASRec's data files ("user item" per line)
    raw = generate(DemoSpec(users=20))
    lines = [f"{u} {i}\n" for u, i in zip(raw.users[:300], raw.items[:300])]
    sample = tmp_path / "demo-head.txt"
    sample.write_text("".join(lines))
    raw = reader_cls(None).read(sample)
    assert len(raw.users) == 300 and raw.users[0] == lines[0].split()[0] and raw.items[-1] == lines[-1].split()[1]
    assert reader_cls(None).detect(sample) == 0.5


def test_hook_register_tables(plugin_site, monkeypatch, tmp_path):
    from workbench.store import open_workspace
    from workbench.store.plugin_tables import plugin_table

    plugin_site(GOOD)
    registry = load(monkeypatch, "wbtest_good")
    assert registry.table_owner == {"wbtest_cache": "wbtest_good"}
    with open_workspace(tmp_path / "w.db", create=True) as ws:
        assert "wbtest_cache" not in ws.db.table_names()           # not part of the core schema
        ws.db.execute(f"INSERT INTO {plugin_table(ws, 'wbtest_cache', registry)} VALUES ('a', x'01')")
        ws.db.conn.commit()
        assert ws.db.execute("SELECT key FROM wbtest_cache").fetchall() == [("a",)]


def test_hook_register_evaluators(plugin_site, monkeypatch):
    plugin_site(GOOD)
    registry = load(monkeypatch, "wbtest_good")
    assert registry.names("evaluator") == ["wbtest_hit"]
    spec = registry.get("evaluator", "wbtest_hit")
    evaluator = spec.load()(spec.options(k=2))
    rankings = Rankings(target_rank=np.array([0, 1, 2, 5]), topk=np.zeros((4, 2), int),
                        targets=np.array([1, 2, 3, 4]), num_candidates=np.full(4, 10),
                        item_popularity=np.ones(11), history_length=np.full(4, 3))
    assert evaluator.evaluate(rankings) == {"HitRate@2": 0.5}


def _context_and_batch():
    import torch

    from workbench.model.base import DataContext, SeqBatch

    ctx = DataContext(num_items=7, num_users=2, max_len=4)
    batch = SeqBatch(items=torch.tensor([[0, 0, 3, 5], [1, 2, 3, 4]]),
                     targets=torch.tensor([[0, 0, 5, 6], [2, 3, 4, 7]]), users=torch.tensor([1, 2]))
    return ctx, batch


def test_hook_register_views(plugin_site, monkeypatch):
    plugin_site(GOOD)
    sys.modules.pop("wbtest_good_impl", None)
    registry = load(monkeypatch, "wbtest_good")
    assert registry.names("view") == ["wbtest_mean"]
    assert "wbtest_good_impl" not in sys.modules  # listing never imports the torch implementation
    spec = registry.get("view", "wbtest_mean")
    ctx, batch = _context_and_batch()
    view = spec.load()(spec.options(scale=2.0), ctx, 8)
    out = view(batch)
    assert tuple(out.states.shape) == (2, 4, 8)
    assert float(out.states[0, 0].detach().abs().sum()) == 0.0  # padding-only prefix stays zero
    emb = view.item_representations()
    assert tuple(emb.shape) == (8, 8)
    assert np.allclose(out.states[1, 1].detach().numpy(), (emb[1] + emb[2]).detach().numpy())  # mean*2


def test_hook_register_fusions(plugin_site, monkeypatch):
    import torch

    plugin_site(GOOD)
    registry = load(monkeypatch, "wbtest_good")
    assert registry.names("fusion") == ["wbtest_average"]
    ctx, batch = _context_and_batch()
    fusion = registry.get("fusion", "wbtest_average").load()(None, ctx, 4, num_views=2)
    a, b = torch.ones(2, 4, 4), torch.zeros(2, 4, 4)
    out = fusion([a, b], batch)
    assert torch.allclose(out.fused, torch.full((2, 4, 4), 0.5))
    assert tuple(out.weights.shape) == (2, 4, 2) and torch.allclose(out.weights.sum(-1), torch.ones(2, 4))


def test_hook_register_heads(plugin_site, monkeypatch):
    import torch

    plugin_site(GOOD)
    registry = load(monkeypatch, "wbtest_good")
    assert registry.names("head") == ["wbtest_dot"]
    ctx, batch = _context_and_batch()
    head = registry.get("head", "wbtest_dot").load()(None, ctx, 4)
    fused, item_emb = torch.randn(2, 4, 4, requires_grad=True), torch.randn(8, 4)
    loss = head.loss(fused, batch, item_emb)
    loss.backward()
    assert loss.ndim == 0 and fused.grad is not None
    assert tuple(head.score(fused[:, -1], item_emb, batch).shape) == (2, 8)


def test_hook_register_commands(plugin_site, run_workbench):
    env = plugin_site({**GOOD, "wbtest-broken-hook": {"wbtest_broken_hook": "wbtest_broken_hook"}})
    proc = run_workbench("wbtest-hello", "world", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "hello world from wbtest_good"
    # the plugin whose register_commands raised is named on stderr; the good one still works
    assert "wbtest_broken_hook" in proc.stderr and "cannot add my command" in proc.stderr


# ---------------------------------------------------------------- isolation of broken plugins
def test_broken_plugins_are_reported_and_skipped(plugin_site, monkeypatch):
    plugin_site()
    registry = load(monkeypatch)
    loaded = {p.name for p in registry.plugins}
    # the app keeps working: built-ins and the good plugin are all there
    assert {"readers", "views", "fusions", "heads", "evaluators", "wbtest_good"} <= loaded
    assert "wbtest_broken_import" not in loaded
    (err,) = errors_of(registry, "wbtest_broken_import")
    assert "ModuleNotFoundError" in err and "wbtest_dependency_that_is_not_installed" in err
    assert [e.package for e in registry.errors if e.plugin == "wbtest_broken_import"] == ["wbtest-broken-import"]

    # a raising hook loses only that hook's registrations
    assert errors_of(registry, "wbtest_broken_hook") == [
        "register_evaluators: RuntimeError: wbtest: evaluator table is corrupt"]
    assert registry.owner[("reader", "wbtest_survivor")] == "wbtest_broken_hook"

    bad = errors_of(registry, "wbtest_bad_spec")
    assert any("register_views registered a 'head' (wbtest_misfiled)" in e for e in bad)
    assert any("register() expects a PluginSpec" in e for e in bad)
    assert "wbtest_misfiled" not in registry.names("head") + registry.names("view")
    # two plugins claiming one name: the first (by plugin name) keeps it, the other is told
    assert registry.owner[("evaluator", "wbtest_hit")] == "wbtest_bad_spec"
    assert "evaluator 'wbtest_hit' already registered by wbtest_bad_spec; skipped" in errors_of(
        registry, "wbtest_good")

    (sig,) = errors_of(registry, "wbtest_bad_signature")
    assert "callback" in sig
    assert "wbtest_bad_signature" not in loaded


def test_load_plugins_env_limits_by_plugin_or_package_name(plugin_site, monkeypatch):
    plugin_site()
    assert {p.name for p in load(monkeypatch, "wbtest_good").plugins} == {"wbtest_good"}
    by_package = load(monkeypatch, "seqrec-workbench, wbtest-broken-hook")
    assert {p.name for p in by_package.plugins} == {"readers", "views", "fusions", "heads", "evaluators",
                                                    "wbtest_broken_hook"}
    assert {e.plugin for e in by_package.errors} == {"wbtest_broken_hook"}
    nothing = load(monkeypatch, "")
    assert nothing.plugins == [] and nothing.errors == [] and nothing.names("view") == []


def test_describe_and_lookup_errors(plugin_site, monkeypatch):
    plugin_site(GOOD)
    registry = load(monkeypatch, "wbtest_good,heads")
    rows = {r["name"]: r for r in registry.describe()}
    good = rows["wbtest_good"]
    assert good["kinds"] == ["evaluator", "fusion", "head", "reader", "view"]
    assert good["provides"]["view"] == ["wbtest_mean"]
    assert (good["package"], good["version"], good["builtin"]) == ("wbtest-good", "0.3.1", False)
    assert rows["heads"]["builtin"] is True
    with pytest.raises(KeyError, match="no view plugin named 'sasrec' \\(installed: wbtest_mean\\)"):
        registry.get("view", "sasrec")


def test_builtins_load_first_so_a_plugin_cannot_take_their_names(plugin_site, monkeypatch):
    taken = load(monkeypatch, "seqrec-workbench").names("evaluator")[0]
    monkeypatch.setenv("WBTEST_SHADOW_NAME", taken)
    plugin_site({"aaa-shadow": {"aaa_shadow": "wbtest_shadow"}})  # sorts before "evaluators"
    registry = load(monkeypatch)
    assert registry.owner[("evaluator", taken)] == "evaluators"
    assert errors_of(registry, "aaa_shadow") == [f"evaluator {taken!r} already registered by evaluators; skipped"]


def test_register_module_directly_and_spec_validation():
    import types

    from workbench.hookspecs import hookimpl

    module = types.ModuleType("wbtest_inline")

    @hookimpl
    def register_heads(register):
        register(PluginSpec(name="inline_head", kind="head", factory="wbtest_good_impl:DotHead"))

    module.register_heads = register_heads
    registry = Registry()
    registry.register_module(module, "inline")
    registry.register_module(module, "inline")  # registering twice is harmless
    assert registry.names("head") == ["inline_head"] and len(registry.plugins) == 1

    with pytest.raises(ValueError, match="unknown plugin kind"):
        PluginSpec(name="x", kind="viewer", factory="a:b")
    with pytest.raises(ValueError, match="bad plugin name"):
        PluginSpec(name="has space", kind="view", factory="a:b")
    with pytest.raises(TypeError, match="options must be a dataclass"):
        PluginSpec(name="x", kind="view", factory="a:b", options=dict)


# ---------------------------------------------------------------- kinds
def test_reader_error_names_file_line_and_field(tmp_path):
    from workbench.kinds import ReaderError

    e = ReaderError(tmp_path / "u.data", 17, "timestamp", "not a number: 'abc'")
    assert str(e) == f"{tmp_path / 'u.data'}, line 17, field 'timestamp': not a number: 'abc'"
    assert (e.file, e.line, e.field) == (str(tmp_path / "u.data"), 17, "timestamp")
    assert str(ReaderError("x.csv", None, None, "empty file")) == "x.csv: empty file"
    assert isinstance(e, ValueError)


def test_reader_plugin_reports_bad_lines_with_reader_error(plugin_site, monkeypatch, tmp_path):
    from workbench.kinds import ReaderError

    plugin_site(GOOD)
    reader = load(monkeypatch, "wbtest_good").get("reader", "wbtest_lines").load()(None)
    bad = tmp_path / "bad.txt"
    bad.write_text("1 10\n2 20 extra\n")
    with pytest.raises(ReaderError) as e:
        reader.read(bad)
    assert (e.value.line, str(bad) in str(e.value)) == (2, True)


def test_spec_load_resolves_dotted_paths_and_reports_missing_ones():
    spec = PluginSpec(name="x", kind="evaluator", factory="workbench.kinds:Rankings.__init__")
    assert spec.load() is Rankings.__init__
    assert PluginSpec(name="y", kind="evaluator", factory=Rankings).load() is Rankings
    with pytest.raises(ModuleNotFoundError):
        PluginSpec(name="z", kind="view", factory="workbench_no_such_module:V").load()
    with pytest.raises(AttributeError):
        PluginSpec(name="z", kind="view", factory="workbench.kinds:NoSuchClass").load()


def test_specs_from_package_never_imports_implementations():
    import subprocess

    code = ("import sys\nfrom workbench.kinds import specs_from_package\n"
            "specs = specs_from_package('workbench_plugins.evaluators', 'evaluator')\n"
            "assert specs and all(s.kind == 'evaluator' for s in specs)\n"
            "print(sorted(m for m in sys.modules if m.startswith('workbench_plugins.') and m.endswith('_impl')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
