"""Warm starts (``init_from``): items matched by raw id or by normalised title, weights equal to the
source's where loaded and mapped, fresh where shapes differ or items are unmatched, the report
stored with the run and printed by ``workbench run``; training on a share of the users."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from workbench.data.dataset import load_dataset, make_split
from workbench.data.demo import DemoSpec, generate
from workbench.data.importer import import_raw
from workbench.data.train_users import restrict_training_users
from workbench.engine.checkpoint import checkpoint_path, load_checkpoint
from workbench.engine.runner import create_run, execute_run, run_config
from workbench.engine.session import RunSession
from workbench.engine.transfer import item_mapping, match_by_id, match_by_title, title_key
from workbench.options import ConfigError
from workbench.store import open_workspace

SPEC = DemoSpec(users=200, items=120, sessions_per_user=5)


def test_title_keys_ignore_articles_case_accents_and_alternative_titles():
    assert title_key("Shawshank Redemption, The (1994)") == title_key("The Shawshank Redemption (1994)") \
        == ("the shawshank redemption", "1994")
    assert title_key("City of Lost Children, The (Cité des enfants perdus, La) (1995)") == \
        ("the city of lost children", "1995")
    assert title_key("Amélie (2001)") == ("amelie", "2001")
    assert title_key("Heat (1995)") != title_key("Heat (1986)")


def test_matching_by_id_and_by_title():
    src_raw, src_titles = ["", "10", "11", "12", "13"], ["", "Heat (1995)", "Heat (1986)", "Alien (1979)", "Up (2009)"]
    tgt_raw, tgt_titles = ["", "1", "2", "3", "12"], ["", "Alien (1979)", "heat (1995)", "Unknown (2000)", "Up (2010)"]
    assert match_by_id(src_raw, tgt_raw).tolist() == [0, -1, -1, -1, 3]
    # exact (name, year) first; "Up" differs by a year but its name is unique on both sides
    assert match_by_title(src_titles, tgt_titles).tolist() == [0, 3, 1, -1, 4]
    # auto: the one shared raw id ("12") names different films -> titles
    mode, mapping = item_mapping("auto", src_raw, src_titles, tgt_raw, tgt_titles, same_dataset=False)
    assert mode == "title" and mapping.tolist() == [0, 3, 1, -1, 4]
    # auto: raw ids that agree with the titles -> ids
    mode, _ = item_mapping("auto", src_raw, src_titles, ["", "10", "12"], ["", "Heat (1995)", "Alien (1979)"], False)
    assert mode == "id"
    with pytest.raises(ConfigError, match="init_from.items"):
        item_mapping("title", src_raw, ["", "", "", "", ""], tgt_raw, tgt_titles, False)


def _renamed_demo() -> tuple[object, dict[str, str]]:
    """The demo data with other raw item ids ("m<id>"), items 0 mod 10 gone, items 3 mod 10 retitled."""
    raw = generate(SPEC)
    keep = [k for k, i in enumerate(raw.items) if int(i) % 10 != 0]
    new_id = {i: f"m{i}" for i in set(raw.items) | set(raw.item_info)}
    info = {}
    for i, v in raw.item_info.items():
        v = dict(v)
        if int(i) % 10 == 3:
            v["title"] = f"Brand New Film {i}"
        info[new_id[i]] = v
    out = replace(raw, users=[raw.users[k] for k in keep], items=[new_id[raw.items[k]] for k in keep],
                  timestamps=[raw.timestamps[k] for k in keep], actions=[raw.actions[k] for k in keep],
                  item_info={k: v for k, v in info.items() if int(k[1:]) % 10 != 0})
    return out, new_id


def _config(dataset, max_len, **extra):
    return {"name": f"t-{dataset}-{max_len}", "dataset": dataset, "model": {"dim": 16, "max_len": max_len},
            "views": [{"type": "sasrec", "blocks": 1}], "head": {"type": "sqn"},
            "evaluators": [{"type": "ranking", "ks": [10]}],
            "trainer": {"epochs": 1, "patience": 0, "seed": 3}, **extra}


@pytest.fixture
def two_datasets(tmp_path):
    path = tmp_path / "ws.db"
    with open_workspace(path, create=True) as ws:
        import_raw(ws, generate(SPEC), name="source", fmt="demo")
        import_raw(ws, _renamed_demo()[0], name="target", fmt="demo")
        source_run = create_run(ws, _config("source", 20))
    execute_run(path, source_run)
    return path, source_run


def _warm_started(path, source_run: int, config: dict):
    """Warm-start a new run of ``config`` (not trained): (report, weights before, after, source weights,
    source dataset, target dataset)."""
    with open_workspace(path) as ws:
        run_id = create_run(ws, config)
        _, cfg = run_config(ws, run_id)
        session = RunSession(ws, run_id, cfg, record=False)
        before = {k: v.clone() for k, v in session.model.state_dict().items()}
        report = session.warm_start()
        src = load_checkpoint(checkpoint_path(ws, source_run, "best"))["model"]
        return (report, before, session.model.state_dict(), src, load_dataset(ws, "source"),
                load_dataset(ws, "target"))


def test_warm_start_loads_maps_by_title_and_leaves_the_rest_fresh(two_datasets):
    path, source_run = two_datasets
    report, before, after, src, s_ds, t_ds = _warm_started(path, source_run, _config("target", 30,
                                                                                     init_from=source_run))
    assert report["items"]["mode"] == "title"            # the raw ids differ ("m17" vs "17")
    # expected mapping, built independently: the target item "m<i>" is the source item "<i>" when its
    # title was kept and that title is unique in both catalogues
    s_index = {r: k for k, r in enumerate(s_ds.item_raw_ids) if k}
    s_count = {t: s_ds.item_titles.count(t) for t in s_ds.item_titles}
    t_count = {t: t_ds.item_titles.count(t) for t in t_ds.item_titles}
    expected = {}
    for k in range(1, t_ds.n_items + 1):
        title = t_ds.item_titles[k]
        if not title.startswith("Brand New") and s_count.get(title) == 1 and t_count[title] == 1:
            expected[k] = s_index[t_ds.item_raw_ids[k][1:]]
    assert report["items"]["matched"] == len(expected) > 0.8 * t_ds.n_items * 0.9
    for name in ("views.0.items.table.weight", "head.q.weight", "head.q.bias", "head.q_target_weight"):
        for k, s in expected.items():
            assert torch.equal(after[name][k], src[name][s]), (name, k)
        unmatched = [k for k in range(1, t_ds.n_items + 1) if k not in expected]
        assert unmatched and all(torch.equal(after[name][k], before[name][k]) for k in unmatched)
    mapped = {m["name"] for m in report["mapped"]}
    assert {"views.0.items.table.weight", "head.q.weight", "head.q_target_weight"} <= mapped
    assert "views.0.blocks.0.attn.qkv.weight" in report["loaded"]
    assert torch.equal(after["views.0.blocks.0.attn.qkv.weight"], src["views.0.blocks.0.attn.qkv.weight"])
    fresh = {f["name"]: f["reason"] for f in report["fresh"]}
    assert "views.0.positions.weight" in fresh and "(20, 16)" in fresh["views.0.positions.weight"]
    assert torch.equal(after["views.0.positions.weight"], before["views.0.positions.weight"])


def test_same_dataset_warm_start_loads_every_tensor(two_datasets):
    path, source_run = two_datasets
    with open_workspace(path) as ws:
        run_id = create_run(ws, _config("source", 20, init_from={"run": source_run, "items": "auto"}))
        _, cfg = run_config(ws, run_id)
        session = RunSession(ws, run_id, cfg, record=False)
        report = session.warm_start()
        src = load_checkpoint(checkpoint_path(ws, source_run, "best"))["model"]
    assert report["items"]["mode"] == "id" and not report["fresh"] and not report["mapped"]
    assert all(torch.equal(v, src[k]) for k, v in session.model.state_dict().items())


def test_cli_run_with_init_from_prints_and_stores_the_report(two_datasets, run_workbench, tmp_path):
    path, source_run = two_datasets
    exp = tmp_path / "ft.toml"
    exp.write_text(f'name = "ft"\ndataset = "target"\ninit_from = {source_run}\n[model]\ndim = 16\nmax_len = 20\n'
                   '[[views]]\ntype = "sasrec"\nblocks = 1\n[head]\ntype = "sqn"\n'
                   '[trainer]\nepochs = 1\npatience = 0\n')
    proc = run_workbench("-w", path, "run", str(exp), check=True, timeout=600)
    assert f"init_from: run {source_run} (dataset 'source')" in proc.stderr + proc.stdout
    assert "items matched by title" in proc.stderr + proc.stdout
    with open_workspace(path) as ws:
        run_id = ws.db.execute("SELECT max(id) FROM runs").fetchone()[0]
        data = [json.loads(r[0]) for r in ws.db.execute(
            "SELECT data FROM run_events WHERE run_id = ? AND kind = 'log'", [run_id]) if "init_from" in r[0]]
        assert ws.db.execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone()[0] == "completed"
    assert len(data) == 1 and data[0]["init_from"]["source"]["run"] == source_run
    assert data[0]["init_from"]["items"]["mode"] == "title"
    shown = run_workbench("-w", path, "runs", "show", run_id, check=True).stdout
    assert f"init_from: run {source_run}" in shown and "mapped views.0.items.table.weight" in shown
    shown = json.loads(run_workbench("-w", path, "runs", "show", run_id, "--json", check=True).stdout)
    assert shown["init_from"]["items"]["matched"] == data[0]["init_from"]["items"]["matched"]


def test_init_from_an_unknown_run_is_refused_before_anything_is_stored(two_datasets, run_workbench, tmp_path):
    path, _ = two_datasets
    exp = tmp_path / "bad.toml"
    exp.write_text('name = "bad"\ndataset = "target"\ninit_from = 99\n[[views]]\ntype = "sasrec"\n'
                   '[head]\ntype = "softmax_ce"\n')
    with open_workspace(path) as ws:
        runs_before = ws.db.execute("SELECT count(*) FROM runs").fetchone()[0]
    proc = run_workbench("-w", path, "run", str(exp))
    assert proc.returncode != 0 and "init_from.run: no run 99" in proc.stderr
    with open_workspace(path) as ws:
        assert ws.db.execute("SELECT count(*) FROM runs").fetchone()[0] == runs_before
    exp.write_text('name = "bad"\ndataset = "target"\ninit_from = "latest"\n[[views]]\ntype = "sasrec"\n'
                   '[head]\ntype = "softmax_ce"\n')
    proc = run_workbench("-w", path, "run", str(exp))
    assert proc.returncode != 0 and "init_from: expected a run id" in proc.stderr


def test_train_users_keeps_only_a_share_of_the_users_training_events(tmp_path):
    with open_workspace(tmp_path / "ws.db", create=True) as ws:
        import_raw(ws, generate(SPEC), name="demo", fmt="demo")
        ds = load_dataset(ws, "demo")
    split = make_split(ds, "loo")
    users = np.arange(1, ds.n_users + 1)
    candidates = int((split.train_end[users] > ds.offsets[users]).sum())
    part = restrict_training_users(ds, split, 0.2, seed=5)
    training = part.train_end[users] > ds.offsets[users]
    assert training.sum() == round(0.2 * candidates)
    assert np.array_equal(part.train_end[users][training], split.train_end[users][training])
    assert np.array_equal(part.test_pos, split.test_pos) and np.array_equal(part.valid_pos, split.valid_pos)
    again = restrict_training_users(ds, split, 0.2, seed=5)
    assert np.array_equal(again.train_end, part.train_end)
    assert restrict_training_users(ds, split, 1.0, seed=5) is split


def test_a_resumed_warm_started_run_keeps_its_own_weights(two_datasets):
    path, source_run = two_datasets
    with open_workspace(path) as ws:
        run_id = create_run(ws, _config("target", 20, init_from=source_run,
                                        trainer={"epochs": 2, "patience": 0, "seed": 3}))
    finished = []                                            # cancelled once epoch 1 is done (and checkpointed)
    listener = lambda e: finished.append(e) if e.kind == "epoch_finished" else None  # noqa: E731
    assert execute_run(path, run_id, listeners=[listener], should_stop=lambda: bool(finished)) == {}
    execute_run(path, run_id, resume=True)
    with open_workspace(path) as ws:
        assert ws.db.execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone()[0] == "completed"
        warm = [r[0] for r in ws.db.execute("SELECT data FROM run_events WHERE run_id = ? AND kind = 'log'",
                                            [run_id]) if '"init_from"' in r[0]]
    assert len(warm) == 1                   # applied once, at the start; the resume restored epoch 1's weights


def test_the_text_rebuild_rule_takes_the_k_nearest_source_items_weighted_by_positive_cosine():
    from workbench.engine.transfer import text_neighbours
    src = np.array([[0, 0], [1, 0], [0, 1], [1, 1], [0, 0], [-1, 0]], dtype=np.float32)   # 4 has no text
    tgt = np.array([[0, 0], [2, 0.1], [0, 0], [-1, -0.01], [1, 1]], dtype=np.float32)   # 2 has no text
    rows, nbrs, w = text_neighbours(src, tgt, np.array([1, 2, 3, 4]), k=2)
    cos = lambda a, b: float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))  # noqa: E731
    assert rows.tolist() == [1, 3, 4]                      # 2: no text
    assert nbrs[0].tolist() == [1, 3] and np.allclose(w[0], np.array([cos(tgt[1], src[1]), cos(tgt[1], src[3])])
                                                         / (cos(tgt[1], src[1]) + cos(tgt[1], src[3])))
    assert nbrs[1].tolist() == [5, 2] and np.allclose(w[1], [1.0, 0.0])    # cos(tgt 3, src 2) < 0 -> weight 0
    assert nbrs[2].tolist() == [3, 1] and np.allclose(w[2], np.array([1, cos(tgt[4], src[1])]) / (1 + cos(tgt[4], src[1])))
    rows, _, _ = text_neighbours(src[[0, 2]], np.array([[0, 0], [0, -1]], dtype=np.float32), np.array([1]), k=3)
    assert rows.tolist() == []                             # its only neighbour has cos < 0: left fresh


def test_unmatched_items_are_rebuilt_from_their_nearest_source_items_by_text(two_datasets):
    from workbench_plugins.views._text_cache import encode_texts, item_text
    path, source_run = two_datasets
    report, before, after, src, s_ds, t_ds = _warm_started(path, source_run, _config(
        "target", 20, init_from={"run": source_run, "unmatched": "text", "neighbours": 3}))
    fields = ["title", "categories", "text"]                # the text view's default fields

    def vectors(ds):
        texts = [""] + [item_text(ds.item_titles[k], ds.item_categories[k], ds.item_texts[k], fields)
                        for k in range(1, ds.n_items + 1)]
        return encode_texts(texts)[0].astype(np.float64)
    sv, tv = vectors(s_ds), vectors(t_ds)
    sv[0] = 0
    sv /= np.maximum(np.linalg.norm(sv, axis=1, keepdims=True), 1e-30)
    tv /= np.maximum(np.linalg.norm(tv, axis=1, keepdims=True), 1e-30)
    mapping = match_by_title(s_ds.item_titles, t_ds.item_titles)         # checked on its own above
    unmatched = [k for k in range(1, t_ds.n_items + 1) if mapping[k] < 0]   # every one has text
    retitled = [k for k in unmatched if t_ds.item_titles[k].startswith("Brand New")]
    items = report["items"]
    assert items["mode"] == "title" and items["rebuilt_from_text"] == len(unmatched) and len(retitled) > 5
    assert items["by_title"] == items["matched"] and items["by_id"] == 0 and items["fresh"] == 0
    assert items["matched"] + items["rebuilt_from_text"] == t_ds.n_items
    names = ("views.0.items.table.weight", "head.q.weight", "head.q.bias", "head.q_target_weight")
    originals = 0
    for k in unmatched:
        sims = sv @ tv[k]
        sims[0] = -np.inf
        top = np.argsort(-sims, kind="stable")[:3]
        w = np.clip(sims[top], 0, None) / np.clip(sims[top], 0, None).sum()
        originals += k in retitled and s_ds.item_raw_ids[top[0]] == t_ds.item_raw_ids[k][1:]
        for name in names:
            expected = sum(wj * src[name][j].double() for wj, j in zip(w, top))
            assert torch.allclose(after[name][k].double(), expected, atol=1e-5), (name, k)
            assert not torch.equal(after[name][k], before[name][k])
    # the new title still has the old text: the item nearest by text is nearly always the same film
    assert originals >= 0.8 * len(retitled)
    for name in names:                                     # the items matched by title are copied as before
        assert all(torch.equal(after[name][k], src[name][mapping[k]]) for k in range(1, t_ds.n_items + 1)
                   if mapping[k] > 0)
    assert {m["name"]: m["rebuilt"] for m in report["mapped"]}["head.q.weight"] == len(unmatched)
    from workbench.engine.transfer import summary_lines
    text = "\n".join(summary_lines(report))
    assert f"{len(unmatched)} rebuilt from text (weighted mean of the 3 nearest source items" in text


def test_unmatched_auto_rebuilds_from_text_only_when_the_experiment_has_a_text_view(two_datasets):
    path, source_run = two_datasets
    with_text = _config("target", 20, init_from=source_run)
    with_text["views"] = [{"type": "sasrec", "blocks": 1}, {"type": "text", "adapter": "linear"}]
    report = _warm_started(path, source_run, with_text)[0]
    items = report["items"]
    assert items["unmatched_policy"] == "auto" and items["rebuilt_from_text"] > 0 and items["fresh"] == 0
    assert items["text"]["fields"] == ["title", "categories", "text"] and len(items["text"]["examples"]) == 5
    plain = _warm_started(path, source_run, _config("target", 20, init_from=source_run))[0]["items"]
    assert plain["rebuilt_from_text"] == 0 and plain["fresh"] == items["rebuilt_from_text"]


def test_unmatched_text_without_item_text_is_refused_when_the_run_is_created(two_datasets, tmp_path):
    from tui_helpers import ratings_slice
    from workbench.data.importer import import_path
    path, source_run = two_datasets
    with open_workspace(path) as ws:
        import_path(ws, ratings_slice(tmp_path, 300), name="plain", fmt="csv",
                    reader_options={"map": "user=userId,item=movieId,time=timestamp"})
        runs_before = ws.db.execute("SELECT count(*) FROM runs").fetchone()[0]
        with pytest.raises(ConfigError, match="init_from.unmatched: \"text\" needs item titles.*'plain'"):
            create_run(ws, _config("plain", 20, init_from={"run": source_run, "unmatched": "text"}))
        assert ws.db.execute("SELECT count(*) FROM runs").fetchone()[0] == runs_before
