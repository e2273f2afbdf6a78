"""Experiments are validated before any row is written: non-finite numbers, absurd sizes, sane upper
bounds (issue 15, item 9)."""

from __future__ import annotations

import pytest

from integrity_helpers import cli, one_line_error, ratings_workspace, tiny_experiment, write_experiment
from workbench.engine.runner import create_run
from workbench.options import ConfigError
from workbench.store import open_workspace


@pytest.fixture
def ws_path(tmp_path):
    return ratings_workspace(tmp_path)


def _with(section: str, **values) -> dict:
    cfg = tiny_experiment(1)
    cfg[section] = {**cfg[section], **values}
    return cfg


BAD = [
    (_with("trainer", lr=float("nan")), "trainer.lr: expected a finite number, got nan"),
    (_with("trainer", lr=float("inf")), "trainer.lr: expected a finite number, got inf"),
    (_with("trainer", lr=1e6), "trainer.lr: 1000000.0 is above the maximum 10.0"),
    (_with("trainer", weight_decay=float("-inf")), "trainer.weight_decay: expected a finite number"),
    (_with("model", dim=100_000_000), "model.dim: 100000000 is above the maximum 16384"),
    (_with("model", max_len=10**9), "model.max_len: 1000000000 is above the maximum"),
    (_with("trainer", epochs=10**9), "trainer.epochs: 1000000000 is above the maximum"),
    (_with("trainer", batch_size=10**9), "trainer.batch_size: 1000000000 is above the maximum"),
]


@pytest.mark.parametrize("config,message", BAD, ids=[m.split(":")[0] + str(i) for i, (_, m) in enumerate(BAD)])
def test_bad_values_are_refused_before_any_row(ws_path, config, message):
    with open_workspace(ws_path) as ws:
        with pytest.raises(ConfigError) as err:
            create_run(ws, config)
        assert message in str(err.value)
        assert ws.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0
        assert ws.db.execute("SELECT COUNT(*) FROM experiments").fetchone()[0] == 0


def test_item_table_too_large_for_the_dataset_is_refused(ws_path, monkeypatch):
    from workbench.engine import runner

    monkeypatch.setattr(runner, "MAX_ITEM_TABLE_GIB", 1e-6)     # about 40 items x dim 8: over this limit
    with open_workspace(ws_path) as ws:
        with pytest.raises(ConfigError, match=r"model.dim: 8 x \d+ items needs"):
            create_run(ws, tiny_experiment(1))
        assert ws.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0


def test_cli_refuses_a_nan_learning_rate_in_one_line(ws_path, tmp_path):
    exp = tmp_path / "nan.toml"
    exp.write_text('name = "x"\ndataset = "r"\n[[views]]\ntype = "sasrec"\n[head]\ntype = "softmax_ce"\n'
                   '[trainer]\nlr = nan\nepochs = 1\n')
    msg = one_line_error(cli(ws_path, "run", exp))
    assert "trainer.lr: expected a finite number, got nan" in msg and str(exp) in msg
    with open_workspace(ws_path) as ws:
        assert ws.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0


def test_a_plugin_factory_that_does_not_resolve_is_refused_before_any_row(ws_path, plugin_site, tmp_path):
    env = plugin_site({"wbtest-dangling": {"wbtest_dangling": "wbtest_dangling"}})
    config = tiny_experiment(1)
    config["views"] = [{"type": "wbtest_dangling"}]
    exp = write_experiment(tmp_path / "dangling.toml", config)
    msg = one_line_error(cli(ws_path, "run", exp, env=env))
    assert "views[0].type: plugin 'wbtest_dangling' cannot be loaded: its factory " \
           "'wbtest_module_that_is_missing:View' names module 'wbtest_module_that_is_missing'" in msg
    with open_workspace(ws_path) as ws:
        assert ws.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0


MONITORS = [
    ("NDCG@11", {}, "trainer.monitor: 'NDCG@11' is not a validation metric of this experiment"),
    ("Coverage@10", {}, "'Coverage@10' is not a validation metric"),               # no coverage evaluator
    ("NDCG@10", {"evaluation": {"mode": "sampled"}}, "evaluation.mode is sampled, so use 'sampled_NDCG@10'"),
    ("purchase_auc", {}, "'purchase_auc' is not a validation metric"),              # not a multi-task head
]


@pytest.mark.parametrize("monitor,extra,message", MONITORS, ids=[m for m, _, _ in MONITORS])
def test_an_unknown_monitor_is_refused_before_any_row(ws_path, monitor, extra, message):
    with open_workspace(ws_path) as ws:
        with pytest.raises(ConfigError) as err:
            create_run(ws, {**_with("trainer", monitor=monitor), **extra})
        assert message in str(err.value) and "NDCG@10" in str(err.value)     # it lists what is reported
        assert ws.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0


def test_monitors_that_the_plugins_report_are_accepted(ws_path):
    with open_workspace(ws_path) as ws:
        create_run(ws, _with("trainer", monitor="HR@10"))
        create_run(ws, {**_with("trainer", monitor="sampled_NDCG@10"), "evaluation": {"mode": "sampled"}})
        create_run(ws, {**_with("trainer", monitor="Coverage@5"),
                        "evaluators": [{"type": "ranking", "ks": [10]}, {"type": "coverage", "ks": [5]}]})
        create_run(ws, {**_with("trainer", monitor="purchase_NDCG@20"),
                        "evaluators": [{"type": "ranking"}, {"type": "action_ranking"}]})
        create_run(ws, {**_with("trainer", monitor="buy_auc"), "head": {"type": "multitask", "positive_action": "buy"}})
        create_run(ws, _with("trainer", monitor="anything", epochs=0))          # never trained: never read


def test_cli_refuses_an_unknown_monitor_in_one_line_and_writes_nothing(ws_path, tmp_path):
    import hashlib
    import sqlite3

    def digest() -> str:
        conn = sqlite3.connect(ws_path)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        return hashlib.sha256(ws_path.read_bytes()).hexdigest()

    exp = write_experiment(tmp_path / "monitor.toml", _with("trainer", monitor="NDCG@11"))
    before = digest()
    msg = one_line_error(cli(ws_path, "run", exp))
    assert "trainer.monitor: 'NDCG@11' is not a validation metric" in msg
    assert digest() == before
