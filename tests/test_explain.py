"""Faithful explanations (issue 16, item 3): view contributions measured through the fusion, history
attributions, nearest history items; `workbench explain` on generated demo data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from demo_run_helpers import cli, config, demo_workspace, train
from workbench.engine.build import build_model_for
from workbench.engine.config import parse_config
from workbench.engine.explain import Explainer, deletion_scores
from workbench.engine.inference import Recommender
from workbench.store import open_workspace

TWO_VIEWS = [{"type": "sasrec", "blocks": 1, "heads": 1, "dropout": 0.0}, {"type": "action"}]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_workspace(tmp_path_factory.mktemp("explain"))


def untrained(ws_path, **changes) -> Explainer:
    """An explainer over a freshly built (seeded, untrained) model of the demo data."""
    with open_workspace(ws_path) as ws:
        built = build_model_for(ws, parse_config(config(**changes)), device="cpu")
    built.model.eval()
    return Explainer(Recommender(built, run_id=0))


def test_view_contributions_go_through_the_fusion(demo):
    # gated fusion with zero gates: the model is exactly its base view, so the other view contributes
    # nothing, however different its own state is (the fusion's weights say the same)
    ex = untrained(demo, views=TWO_VIEWS, fusion={"type": "gated", "gate_init": 0.0})
    query = ex.rec.query_user(3)
    item = ex.default_item(query)
    sasrec, action = ex.view_contributions(query, item)
    assert (sasrec["view"], action["view"]) == ("sasrec", "action")
    assert action["contribution"] == 0.0 and sasrec["contribution"] != 0.0
    for baseline in ("zero", "mean"):
        assert ex.view_contributions(query, item, baseline)[1]["contribution"] == 0.0
    # a mean fusion mixes both: replacing either state changes the score, by what re-scoring says
    ex = untrained(demo, views=TWO_VIEWS, fusion={"type": "mean"})
    query = ex.rec.query_user(3)
    out = ex.explain(query, item=7, baseline="zero")
    views = out["views"]
    assert all(v["contribution"] != 0.0 for v in views)
    with torch.no_grad():
        outs = [v(query.batch) for v in ex.model.views]
        outs[1].states = torch.zeros_like(outs[1].states)
        fused = ex.model.fusion([o.states for o in outs], query.batch).fused[:, -1]
        rescored = ex.model.head.score(fused, ex.model.item_embeddings(), query.batch)[0, 7]
    assert views[1]["score_without"] == pytest.approx(float(rescored), abs=1e-5)
    assert out["item"]["score"] - views[1]["score_without"] == pytest.approx(views[1]["contribution"], abs=1e-5)


def test_occlusion_is_the_score_drop_of_removing_each_event(demo):
    ex = untrained(demo, model={"dim": 16, "max_len": 8})
    query = ex.rec.query_user(5)
    n = len(query.items)
    assert n > 8                                                  # older events move into the window
    item = ex.default_item(query)
    occ = ex.attribute(query, item, "occlusion")
    assert occ.shape == (8,)
    full = float(ex.rec.scores(query.batch)[0, item])
    for j in (0, 7):
        keep = np.ones(n, dtype=bool)
        keep[n - 8 + j] = False
        without = ex.rec.query_events(query.items[keep], query.timestamps[keep], query.actions[keep], query.user)
        assert occ[j] == pytest.approx(full - float(ex.rec.scores(without.batch)[0, item]), abs=1e-5)
    order = np.arange(n)[::-1]                                     # the latest events first
    curve = deletion_scores(ex, query, item, order, [0, 1, 3])
    assert curve["score"][0] == pytest.approx(full, abs=1e-5) and curve["rank"][0] == 1
    assert curve["score"][1] == pytest.approx(full - occ[-1], abs=1e-5)


def test_integrated_gradients_add_up_to_the_score_change_from_zero_lookups(demo):
    # a GRU view: the score is smooth along the path from zero lookups (a view that layer-normalises
    # its lookups first is scale-invariant there, and the path jumps at zero; see the module docstring)
    ex = untrained(demo, views=[{"type": "gru"}])
    query = ex.rec.query_user(2)
    item = ex.default_item(query)
    ig = ex.attribute(query, item, "integrated_gradients", steps=64)
    assert ig.shape == (min(len(query.items), 20),)
    gxi = untrained(demo, views=TWO_VIEWS, fusion={"type": "mean"}).attribute(query, item, "gradient_x_input")
    zero = lambda module, inputs, output: torch.zeros_like(output) if output.dim() >= 3 else None  # noqa: E731
    handles = [m.register_forward_hook(zero) for m in ex.model.views.modules() if isinstance(m, nn.Embedding)]
    try:
        at_zero = float(ex.rec.scores(query.batch)[0, item])
    finally:
        for h in handles:
            h.remove()
    full = float(ex.rec.scores(query.batch)[0, item])
    assert abs(full - at_zero) > 1e-3
    assert float(ig.sum()) == pytest.approx(full - at_zero, rel=0.05, abs=1e-3)
    assert not np.allclose(ig, 0) and not np.allclose(gxi, 0)


def test_explain_cli_on_a_trained_two_view_run(demo):
    run_id = train(demo, config(name="two-views", views=TWO_VIEWS, fusion={"type": "attention"}))
    out = cli(demo, "explain", "--run", run_id, "--user", "1", "--json")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    top = json.loads(cli(demo, "recommend", "--run", run_id, "--user", "1", "-k", "1", "--json").stdout)["items"][0]
    assert got["item"]["item"] == top["item"] and got["item"]["rank"] == 1
    assert got["item"]["score"] == pytest.approx(top["score"], abs=1e-5)
    assert [v["view"] for v in got["views"]] == ["sasrec", "action"]
    assert sum(v["fusion_weight"] for v in got["views"]) == pytest.approx(1.0, abs=1e-4)
    with open_workspace(demo) as ws:
        from workbench.data.dataset import load_dataset
        ds = load_dataset(ws, "demo")
    history = [ds.item_raw_ids[i] for i in ds.sequence(ds.user_raw_ids.index("1"))]
    assert got["history_length"] == len(history) and 1 <= len(got["events"]) <= 10
    for e in got["events"]:
        assert history[e["position"]] == e["item"] and e["position"] >= len(history) - got["window"]
    assert got["nearest"] and all(n["raw_id"] in history and n["title"] for n in got["nearest"])

    other = history[0] if history[0] != top["item"] else history[1]
    item = json.loads(cli(demo, "explain", "--run", run_id, "--user", "1", "--item", other, "--method",
                          "occlusion", "--json").stdout)
    assert item["item"]["item"] == other and item["item"]["rank"] is None        # seen: not ranked
    text = cli(demo, "explain", "--run", run_id, "--history", ",".join(history[:4]))
    assert text.returncode == 0 and "history events that drove the score" in text.stdout
    bad = cli(demo, "explain", "--run", run_id, "--user", "1", "--item", "no-such-item")
    assert bad.returncode != 0 and "'no-such-item'" in bad.stderr.strip().splitlines()[-1]
