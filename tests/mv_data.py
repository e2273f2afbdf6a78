"""Data for the multi-view plugin tests: small slices of the generated demo data.

:func:`demo_slice` builds a :class:`DataContext` and per-user sequences from
:mod:`workbench.data.demo` (real timestamps, titles, categories, user attributes,
a view/click/cart/purchase action funnel): no files needed, so these tests run in any
clone. Tests about real-data quality use :func:`require` to reach ``../shared/datasets``
and skip, naming the missing folder, where it is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
AGE_MIDPOINTS = {"18-24": 21, "25-34": 30, "35-49": 42, "50+": 57}


def require(name: str) -> Path:
    path = DATASETS / name
    if not path.exists():
        pytest.skip(f"real dataset folder {path} not found (../shared/datasets next to the repo)")
    return path


def demo_slice(n_users: int = 60, max_len: int = 30, actions: bool = False, n_items: int = 800,
               min_events: int = 10):
    """The first ``n_users`` demo users with at least ``min_events`` events, in time order;
    users renumbered 1..n_users, items remapped to 1..N in order of first appearance.

    Returns ``(ctx, sequences, times, action_seqs)``: per-user item / timestamp / action-id
    lists (index 0 empty; ``action_seqs`` is None unless ``actions``). The last two events
    of each user are held out of ``ctx.train_sequences`` (leave-one-out). User attributes:
    the generator's ``age_band`` and ``region`` (categorical) and ``age``, the band's
    midpoint (numeric). With ``actions`` the vocabulary is view, click, cart, purchase.
    """
    from collections import defaultdict

    import torch

    from workbench.data.demo import ACTIONS, DemoSpec, generate
    from workbench.model.base import DataContext

    raw = generate(DemoSpec(users=4 * n_users, items=n_items))
    per_user = defaultdict(list)
    for u, i, t, a in zip(raw.users, raw.items, raw.timestamps, raw.actions):
        per_user[u].append((t, i, ACTIONS.index(a) + 1))
    users = [u for u in sorted(per_user, key=int) if len(per_user[u]) >= min_events][:n_users]
    assert len(users) == n_users, "the demo generator gave too few users with enough events"
    item_map: dict[str, int] = {}
    seqs, times, acts = [[]], [[]], [[]]
    for u in users:
        events = sorted(per_user[u])
        seqs.append([item_map.setdefault(i, len(item_map) + 1) for _, i, _ in events])
        times.append([float(t) for t, _, _ in events])
        acts.append([a for _, _, a in events])
    n = len(item_map)
    titles, texts, cats = [""] * (n + 1), [""] * (n + 1), [[] for _ in range(n + 1)]
    for raw_id, k in item_map.items():
        info = raw.item_info[raw_id]
        titles[k], texts[k], cats[k] = info["title"], info["text"], list(info["categories"])
    attrs = [{}]
    for u in users:
        band, region = raw.user_info[u]["age_band"], raw.user_info[u]["region"]
        attrs.append({"age": AGE_MIDPOINTS[band], "age_band": band, "region": region})
    train = [[]] + [s[:-2] for s in seqs[1:]]
    pop = torch.zeros(n + 1)
    for s in train[1:]:
        for i in s:
            pop[i] += 1
    ctx = DataContext(
        num_items=n, num_users=len(users), max_len=max_len, has_timestamps=True,
        item_titles=titles, item_texts=texts, item_categories=cats,
        user_attributes=attrs, actions=(list(ACTIONS) if actions else []),
        train_sequences=train, item_popularity=pop,
        item_raw_ids=[""] + [r for r, _ in sorted(item_map.items(), key=lambda kv: kv[1])])
    return ctx, seqs, times, (acts if actions else None)


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
