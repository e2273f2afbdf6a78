"""The embedded demo dataset: deterministic, and carrying the signals the workbench's views rely on."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from workbench.data.dataset import load_dataset
from workbench.data.demo import DEMO_DATASET, VOCAB, DemoSpec, ensure_demo_workspace, generate
from workbench.data.preprocess import fingerprint, preprocess
from workbench.data.stats import dataset_stats


@pytest.fixture(scope="module")
def demo():
    return generate(DemoSpec())


@pytest.fixture(scope="module")
def events(demo):
    """Per user, the chronological list of (t, item, action)."""
    out: dict[str, list] = {}
    for u, i, t, a in zip(demo.users, demo.items, demo.timestamps, demo.actions):
        out.setdefault(u, []).append((t, i, a))
    for evs in out.values():
        evs.sort(key=lambda e: e[0])
    return out


def test_same_seed_same_fingerprint_other_seed_differs(demo):
    assert fingerprint(preprocess(generate(DemoSpec()))) == fingerprint(preprocess(demo))
    assert fingerprint(preprocess(generate(DemoSpec(seed=8)))) != fingerprint(preprocess(demo))


def test_default_size_is_small_enough_to_train_quickly(demo):
    assert len(set(demo.users)) == 1000
    assert 700 <= len(set(demo.items)) <= 800
    assert 30_000 <= len(demo.users) <= 80_000


def test_action_funnel_and_actions_carry_taste(demo, events):
    counts = Counter(demo.actions)
    assert counts["view"] > counts["click"] > counts["cart"] > counts["purchase"] > 0
    cats = {i: info["categories"][0] for i, info in demo.item_info.items()}
    deep_fav, n_fav, deep_other, n_other = 0, 0, 0, 0
    for evs in events.values():
        favourite = Counter(cats[i] for _, i, _ in evs).most_common(1)[0][0]
        for _, item, action in evs:
            deep = action in ("cart", "purchase")
            if cats[item] == favourite:
                deep_fav, n_fav = deep_fav + deep, n_fav + 1
            else:
                deep_other, n_other = deep_other + deep, n_other + 1
    assert deep_fav / n_fav > 1.3 * deep_other / n_other  # users go deeper on what they like


def test_next_item_is_rarely_a_trivial_repeat(events):
    """Leave-one-out must not be won by copying the previous item (a funnel-as-events artefact)."""
    seqs = [[i for _, i, _ in evs] for evs in events.values()]
    assert sum(s[-1] == s[-2] for s in seqs) / len(seqs) < 0.1
    assert sum(a == b for s in seqs for a, b in zip(s, s[1:])) / sum(len(s) - 1 for s in seqs) < 0.1


def test_multi_scale_time_gaps(events):
    gaps = np.concatenate([np.diff([e[0] for e in evs]) for evs in events.values()])
    assert (gaps >= 0).all()
    assert np.mean(gaps < 600) > 0.6                     # minutes within sessions
    assert np.mean(gaps > 86400) > 0.05                  # days between sessions
    assert np.sum(gaps > 14 * 86400) > 100               # occasional weeks-long breaks


def test_item_text_predicts_the_category(demo):
    vocab = {cat: set(words) for cat, words in VOCAB.items()}
    correct = 0
    for info in demo.item_info.values():
        words = {w.strip(":.").lower() for w in info["title"].split()}
        guess = max(vocab, key=lambda c: len(words & vocab[c]))
        correct += guess == info["categories"][0]
        assert info["categories"][0] in info["text"]
    assert correct / len(demo.item_info) > 0.9  # chance is 1/12


def _category_dist(items, demo, n_cat):
    cats = list(VOCAB)
    counts = np.zeros(n_cat)
    for i in items:
        counts[cats.index(demo.item_info[i]["categories"][0])] += 1
    return counts / max(counts.sum(), 1)


def test_user_attributes_correlate_with_tastes(demo, events):
    n_cat = len(VOCAB)
    users = sorted(events)
    bands = [demo.user_info[u]["age_band"] for u in users]
    views = {u: [e[1] for e in events[u]] for u in users}

    def spread(labels):
        dists = []
        for band in sorted(set(labels)):
            items = [i for u, b in zip(users, labels) if b == band for i in views[u]]
            dists.append(_category_dist(items, demo, n_cat))
        d = np.array(dists)
        return np.abs(d - d.mean(0)).sum(1).mean()

    shuffled = list(np.random.default_rng(0).permutation(bands))
    assert spread(bands) > 2 * spread(shuffled)


def test_tastes_drift_over_time(demo, events):
    """A user's early and late sessions differ more than their interleaved (odd/even) sessions."""
    n_cat = len(VOCAB)
    early_late, interleaved = [], []
    for evs in events.values():
        sessions, current, last_t = [], [], None
        for t, item, _action in evs:
            if last_t is not None and t - last_t > 1800:
                sessions.append(current)
                current = []
            current.append(item)
            last_t = t
        sessions.append(current)
        if len(sessions) < 6:
            continue
        half = len(sessions) // 2
        flat = lambda ss: [i for s in ss for i in s]  # noqa: E731
        tv = lambda a, b: np.abs(_category_dist(a, demo, n_cat) - _category_dist(b, demo, n_cat)).sum()  # noqa: E731
        early_late.append(tv(flat(sessions[:half]), flat(sessions[half:])))
        interleaved.append(tv(flat(sessions[0::2]), flat(sessions[1::2])))
    assert len(early_late) > 300
    # measured: 1.00 with drift=0, 1.16 with the default drift=0.7
    assert np.mean(early_late) > 1.08 * np.mean(interleaved)


def test_popularity_is_heavy_tailed(demo):
    counts = np.array(sorted(Counter(demo.items).values(), reverse=True))
    top = counts[: len(counts) // 10].sum() / counts.sum()
    assert top > 0.35  # uniform popularity would give 0.10


def test_ensure_demo_workspace_is_idempotent_and_uses_the_home(wb_home):
    ws = ensure_demo_workspace()
    try:
        assert ws.path == wb_home / "demo.db"
        first = ws.db.execute("SELECT id, created_at, fingerprint FROM datasets WHERE name = ?",
                              [DEMO_DATASET]).fetchone()
        ds = load_dataset(ws, DEMO_DATASET)
        assert ds.has_timestamps and ds.action_names == ["cart", "click", "purchase", "view"]
        assert ds.user_attributes[1].keys() == {"age_band", "region"}
        assert ds.item_titles[1] and ds.item_categories[1]
        stats = dataset_stats(ws, DEMO_DATASET)
        assert stats["users"] == 1000 and stats["time_span"]["days"] > 60
    finally:
        ws.close()
    ws = ensure_demo_workspace()
    try:
        again = ws.db.execute("SELECT id, created_at, fingerprint FROM datasets WHERE name = ?",
                              [DEMO_DATASET]).fetchone()
        assert again == first
    finally:
        ws.close()
