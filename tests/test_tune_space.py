"""Search-space parsing: distributions, dotted keys, SPACE.toml errors naming the file and key."""

from __future__ import annotations

import pytest

from workbench.options import ConfigError
from workbench.tune.space import load_space_file, merge_space, parse_set, set_key


def test_distributions_parse():
    p = parse_set("trainer.lr=loguniform(1e-4, 1e-2)")
    assert (p.key, p.kind, p.args) == ("trainer.lr", "loguniform", (1e-4, 1e-2))
    assert parse_set("views[0].dropout=uniform(0,0.5)").args == (0.0, 0.5)
    assert parse_set("model.dim=int(16, 128)").args == (16, 128)
    assert parse_set("model.dim=int(16, 128, log)").log is True
    assert parse_set('head.type=choice("softmax_ce", bce)').args == ("softmax_ce", "bce")
    assert parse_set("trainer.length_buckets=choice(true,false)").args == (True, False)


@pytest.mark.parametrize("spec, message", [
    ("trainer.lr", "expected KEY=DIST(args)"),
    ("trainer.lr=normal(0,1)", "unknown distribution 'normal'"),
    ("trainer.lr=loguniform(1e-4)", "needs exactly two bounds"),
    ("trainer.lr=loguniform(0, 1)", "loguniform needs low > 0"),
    ("trainer.lr=uniform(2, 1)", "low must be < high"),
    ("model.dim=int(1.5, 4)", "bounds must be integers"),
    ("model.dim=choice()", "needs at least one value"),
    ("model.dim=choice(1, 1)", "lists a value twice"),
    ("model..dim=uniform(0,1)", "not a dotted experiment key"),
])
def test_bad_set_is_one_clear_error(spec, message):
    with pytest.raises(ConfigError) as e:
        parse_set(spec)
    assert message in str(e.value) and f"--set {spec!r}" in str(e.value)


def test_set_key_on_dotted_paths():
    cfg = {"views": [{"type": "gru"}], "trainer": {"lr": 1e-3}}
    out = set_key(cfg, "views[0].dropout", 0.3)
    assert out["views"][0]["dropout"] == 0.3 and "dropout" not in cfg["views"][0]
    assert set_key(cfg, "views.0.dropout", 0.2)["views"][0]["dropout"] == 0.2
    assert set_key(cfg, "model.dim", 32)["model"] == {"dim": 32}
    with pytest.raises(ConfigError, match="views\\[1\\].dropout: the experiment has no entry 1"):
        set_key(cfg, "views[1].dropout", 0.1)


def test_space_file(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text('[space]\n"trainer.lr" = "loguniform(1e-4, 1e-2)"\n"model.dim" = "choice(32, 64)"\n'
                    '[tune]\ntrials = 7\npruner = "hyperband"\n')
    params, tune = load_space_file(path)
    assert [p.key for p in params] == ["trainer.lr", "model.dim"] and tune == {"trials": 7, "pruner": "hyperband"}
    merged = merge_space(params, [parse_set("model.dim=choice(8,16)"), parse_set("trainer.seed=int(1,3)")])
    assert [(p.key, p.args) for p in merged] == [("trainer.lr", (1e-4, 1e-2)), ("model.dim", (8, 16)),
                                                 ("trainer.seed", (1, 3))]
    path.write_text('[space]\n"trainer.lr" = "loguniform(1e-2, 1e-4)"\n')
    with pytest.raises(ConfigError, match=f"{path}: space.'trainer.lr': loguniform.*low must be < high"):
        load_space_file(path)
    path.write_text('[space]\ntrainer.lr = "uniform(0, 1)"\n')
    with pytest.raises(ConfigError, match="write dotted keys quoted"):
        load_space_file(path)
    path.write_text('[tune]\ntrials = 3\n')
    with pytest.raises(ConfigError, match="\\[space\\] is missing"):
        load_space_file(path)
