"""Experiment configs: every mistake is reported with the full key; defaults are resolved."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.engine.config import apply_overrides, load_toml, parse_config
from workbench.options import ConfigError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def base() -> dict:
    return {"name": "x", "dataset": "d", "views": [{"type": "sasrec"}], "head": {"type": "softmax_ce"}}


@pytest.mark.parametrize("patch, key", [
    ({"trainer": {"lr": -1.0}}, "trainer.lr"),
    ({"trainer": {"epochs": "ten"}}, "trainer.epochs"),
    ({"trainer": {"schedule": "linear"}}, "trainer.schedule"),
    ({"trainer": {"betas": [0.9, 1.5]}}, "trainer.betas"),
    ({"trainer": {"learning_rate": 0.1}}, "trainer.learning_rate"),
    ({"model": {"dim": 0}}, "model.dim"),
    ({"views": [{"type": "sasrec", "blocks": "two"}]}, "views[0].blocks"),
    ({"views": [{"type": "sasrec"}, {"type": "gru", "layerz": 2}]}, "views[1].layerz"),
    ({"views": [{"type": "no-such-view"}]}, "views[0].type"),
    ({"views": [{"blocks": 2}]}, "views[0].type"),
    ({"head": {"type": "gbce", "t": 2.0}}, "head.t"),
    ({"head": {"type": "nope"}}, "head.type"),
    ({"evaluation": {"mode": "half"}}, "evaluation.mode"),
    ({"split": "random"}, "split.kind"),
    ({"evaluators": [{"type": "ranking", "ks": "ten"}]}, "evaluators[0].ks"),
    ({"modle": {"dim": 3}}, "modle"),
])
def test_bad_values_name_the_key(patch, key):
    cfg = {**base(), **patch}
    with pytest.raises(ConfigError) as e:
        parse_config(cfg)
    assert str(e.value).startswith(key), str(e.value)


def test_missing_head_and_views_for_trainable_head():
    cfg = base()
    del cfg["head"]
    with pytest.raises(ConfigError, match=r"^head"):
        parse_config(cfg)
    with pytest.raises(ConfigError, match=r"^views"):
        parse_config({**base(), "views": []})
    # a baseline head needs no views
    assert parse_config({**base(), "views": [], "head": {"type": "popularity"}}).views == []


def test_defaults_are_resolved_and_round_trip():
    cfg = parse_config(base())
    d = cfg.to_dict()
    assert d["trainer"]["epochs"] == 200 and d["trainer"]["monitor"] == "NDCG@10"
    assert d["fusion"]["type"] == "identity"
    assert d["views"][0]["blocks"] == 2 and d["views"][0]["norm"] == "pre"
    assert {e["type"] for e in d["evaluators"]} >= {"ranking"}
    assert parse_config(d).to_dict() == d     # stored configs re-validate unchanged


def test_overrides_do_not_touch_the_original():
    raw = base()
    out = apply_overrides(raw, dataset="ml", device="cpu", epochs=3)
    assert out["dataset"] == "ml" and out["trainer"] == {"device": "cpu", "epochs": 3}
    assert "trainer" not in raw and raw["dataset"] == "d"


def test_toml_syntax_error_names_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = 'x'\n[trainer\nlr = 1\n")
    with pytest.raises(ConfigError, match="bad.toml"):
        load_toml(bad)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.stem)
def test_every_example_experiment_is_valid(path):
    """Every shipped example parses against the registered plugins' options (a renamed option or
    plugin breaks this test, not a user's first run)."""
    cfg = parse_config(load_toml(path))
    assert cfg.dataset and cfg.head.type and (cfg.views or cfg.head.type in ("popularity", "item_knn"))
