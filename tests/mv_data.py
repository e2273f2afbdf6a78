"""Real-data fixtures for the multi-view plugin tests: small MovieLens slices parsed directly.

Builds a :class:`DataContext` and :class:`SeqBatch` es from ``../shared/datasets``
(ml-100k: real timestamps, titles, genres, user attributes; ml-1m SASRec: order only).
Tests skip with a clear message when the datasets folder is absent.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
ML100K_GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
                 "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
                 "Romance", "Sci-Fi", "Thriller", "War", "Western"]


def require(name: str) -> Path:
    path = DATASETS / name
    if not path.exists():
        pytest.skip(f"real dataset {path} not available (expected ../shared/datasets next to the repo)")
    return path


def ml100k_slice(n_users: int = 60, max_len: int = 30, actions: bool = False):
    """First ``n_users`` users of ml-100k in time order; items remapped to 1..N.

    Returns ``(ctx, sequences, times, raw_item_ids)``: per-user item / timestamp lists
    (index 0 empty). The last two events of each user are held out of
    ``ctx.train_sequences`` (leave-one-out). With ``actions``, each event gets the
    action "like" (rating >= 4) or "view" (rating < 4) so action views can be tested.
    """
    import torch

    from workbench.model.base import DataContext

    root = require("ml-100k")
    per_user = defaultdict(list)
    for line in (root / "u.data").read_text().splitlines():
        u, i, r, t = line.split("\t")
        per_user[int(u)].append((int(t), int(i), int(r)))
    users = sorted(per_user)[:n_users]
    item_map: dict[int, int] = {}
    seqs, times, acts = [[]], [[]], [[]]
    for u in users:
        events = sorted(per_user[u])
        seqs.append([item_map.setdefault(i, len(item_map) + 1) for _, i, _ in events])
        times.append([float(t) for t, _, _ in events])
        acts.append([1 if r >= 4 else 2 for _, _, r in events])   # vocabulary ["like", "view"]: like = 1, view = 2
    n_items = len(item_map)
    titles, cats = [""] * (n_items + 1), [[] for _ in range(n_items + 1)]
    for line in (root / "u.item").read_text(encoding="latin-1").splitlines():
        parts = line.split("|")
        raw = int(parts[0])
        if raw in item_map:
            k = item_map[raw]
            titles[k] = parts[1]
            cats[k] = [g for g, flag in zip(ML100K_GENRES, parts[5:]) if flag == "1"]
    attrs = [{}]
    user_rows = {int(p[0]): p for p in (line.split("|") for line in (root / "u.user").read_text().splitlines())}
    for u in users:
        p = user_rows[u]
        attrs.append({"age": int(p[1]), "gender": p[2], "occupation": p[3]})
    train = [[]] + [s[:-2] for s in seqs[1:]]
    pop = torch.zeros(n_items + 1)
    for s in train[1:]:
        for i in s:
            pop[i] += 1
    ctx = DataContext(
        num_items=n_items, num_users=len(users), max_len=max_len, has_timestamps=True,
        item_titles=titles, item_texts=["" for _ in titles], item_categories=cats,
        user_attributes=attrs, actions=(["like", "view"] if actions else []),
        train_sequences=train, item_popularity=pop)
    ctx.extra["item_raw_ids"] = [""] + [str(r) for r, _ in sorted(item_map.items(), key=lambda kv: kv[1])]
    action_seqs = acts if actions else None
    return ctx, seqs, times, action_seqs


def make_batch(ctx, seqs, times, user_ids, action_seqs=None, holdout: int = 2):
    """Training batch for ``user_ids``: the last ``max_len`` training events (all but the last
    ``holdout``), left-padded, with next-item targets at every real position."""
    import torch

    from workbench.model.base import SeqBatch

    L = ctx.max_len
    B = len(user_ids)
    items = torch.zeros(B, L, dtype=torch.long)
    targets = torch.zeros(B, L, dtype=torch.long)
    ts = torch.zeros(B, L)
    tts = torch.zeros(B, L)
    acts = torch.zeros(B, L, dtype=torch.long) if action_seqs else None
    tacts = torch.zeros(B, L, dtype=torch.long) if action_seqs else None
    for row, u in enumerate(user_ids):
        seq = seqs[u][: len(seqs[u]) - holdout] if holdout else seqs[u]
        tim = times[u][: len(seq)]
        inp, tgt = seq[:-1][-L:], seq[1:][-L:]
        n = len(inp)
        items[row, L - n:] = torch.tensor(inp)
        targets[row, L - n:] = torch.tensor(tgt)
        ts[row, L - n:] = torch.tensor(tim[:-1][-L:])
        tts[row, L - n:] = torch.tensor(tim[1:][-L:])
        if action_seqs:
            a = action_seqs[u][: len(seq)]
            acts[row, L - n:] = torch.tensor(a[:-1][-L:])
            tacts[row, L - n:] = torch.tensor(a[1:][-L:])
    return SeqBatch(items=items, targets=targets, users=torch.tensor(user_ids), timestamps=ts,
                    target_timestamps=tts, actions=acts, target_actions=tacts)


def build(spec_module: str, name: str, ctx, dim: int = 16, values: dict | None = None, **extra):
    """Construct a built-in plugin exactly as the composer does: parse options, load factory."""
    import importlib

    from workbench.options import parse_options

    module = importlib.import_module(f"workbench_plugins.{spec_module}")
    spec = next(s for s in module.SPECS if s.name == name)
    options = parse_options(spec.options, values or {}, f"{spec.kind}s.{name}")
    return spec.load()(options, ctx, dim, **extra)


def causality_check(view, batch, t: int) -> float:
    """Max change of states[:, :t+1] when every event after position t is replaced."""
    import torch

    view.eval()
    with torch.no_grad():
        a = view(batch).states
        changed = batch.to("cpu")
        changed.items = batch.items.clone()
        changed.items[:, t + 1:] = torch.randint(1, view.ctx.num_items + 1, changed.items[:, t + 1:].shape)
        if batch.timestamps is not None:
            changed.timestamps = batch.timestamps.clone()
            changed.timestamps[:, t + 1:] += 12345.0
        if batch.actions is not None:
            changed.actions = batch.actions.clone()
            changed.actions[:, t + 1:] = 1
        b = view(changed).states
    return (a[:, : t + 1] - b[:, : t + 1]).abs().max().item()


def fused_losses(views, fusion, head, batch, steps: int = 8, lr: float = 0.01, seed: int = 0):
    """Train views -> fusion -> head on one real batch for ``steps`` Adam steps, composed as the
    contract says (the fusion combines the item tables the views offer); returns the loss of every step."""
    import torch

    torch.manual_seed(seed)
    modules = torch.nn.ModuleList([*views, fusion, head])
    opt = torch.optim.Adam(modules.parameters(), lr=lr)
    modules.train()
    losses = []
    for _ in range(steps):
        outs = [v(batch) for v in views]
        fused = fusion([o.states for o in outs], batch).fused
        item_emb = fusion.combine_item_tables([v.item_representations() for v in views])
        loss = head.loss(fused, batch, item_emb)
        for o in outs:
            if o.aux_loss is not None:
                loss = loss + o.aux_loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses
