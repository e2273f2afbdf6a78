"""Synthetic behaviour logs at real shapes (millions of events), streamed to CSV.

The behaviour model is the demo generator's (:mod:`workbench.data.demo`), vectorised
over users so that 100M events take minutes, not hours:

- **Power-law popularity**: item weight ~ 1 / rank^``zipf`` over a random permutation of ids;
  every item has a primary category and, with probability 0.3, a secondary one.
- **Drifting tastes**: a user's category logits start from their age band and region plus
  noise, then random-walk from session to session (three times the step after a long break);
  each session has an intent category drawn from softmax(logits) (Gumbel-max).
- **Sequential structure**: items of a category form a series; with ``series_prob`` the next
  event is the successor of the previous item in its series.
- **Funnels**: each event's action is the deepest stage reached, view -> click -> cart ->
  purchase, deeper when the item is in the user's current favourite category.
- **Sessions in time**: 5 s + Exp(90 s) between events of a session; 600 s + Exp(1.5 days)
  between sessions; a 6 % chance of a 14-42 day break.

Users get heavy-tailed event counts (log-normal weights, at least one event each) that sum to
exactly ``events``. Users are generated in chunks; memory is O(chunk + items), whatever
``events`` is. Output columns: ``user_id,item_id,timestamp,action`` (integer unix seconds),
one user after another, each user's events in time order. Same arguments (seed included)
-> byte-identical file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from workbench.data.demo import ACTIONS, AGE_BANDS, REGIONS, VOCAB

HEADER = "user_id,item_id,timestamp,action\n"
DAY = 86400.0


@dataclass(frozen=True)
class SyntheticSpec:
    events: int
    users: int
    items: int
    categories: int = len(VOCAB)
    views_per_session: float = 4.0
    zipf: float = 1.0
    drift: float = 0.7
    series_prob: float = 0.35
    funnel: tuple[float, float, float] = (0.35, 0.3, 0.35)
    seed: int = 7
    start: float = 1_700_000_000.0
    chunk_events: int = 1_000_000

    def check(self) -> None:
        if self.users < 1 or self.items < 2:
            raise ValueError(f"need at least 1 user and 2 items, got {self.users} users, {self.items} items")
        if self.events < self.users:
            raise ValueError(f"--events ({self.events:,}) must be at least --users ({self.users:,}): "
                             f"every user has at least one event")
        if self.categories < 1 or self.categories > self.items:
            raise ValueError(f"categories must be in 1..items, got {self.categories}")


class _Catalogue:
    """Items, their categories, popularity and series successors; per-category inverse-CDF tables."""

    def __init__(self, spec: SyntheticSpec, rng: np.random.Generator):
        n, c = spec.items, spec.categories
        self.primary = rng.integers(0, c, size=n)
        secondary = np.where(rng.random(n) < 0.3, rng.integers(0, c, size=n), -1)
        secondary[secondary == self.primary] = -1
        weight = 1.0 / (rng.permutation(n) + 1.0) ** spec.zipf
        # members of each category (primary or secondary), concatenated; cum[c] spans [c, c + 1]
        cat = np.concatenate([self.primary, secondary[secondary >= 0]])
        member = np.concatenate([np.arange(n), np.flatnonzero(secondary >= 0)])
        order = np.argsort(cat, kind="stable")
        self.member, cat = member[order], cat[order]
        w = weight[self.member]
        starts = np.searchsorted(cat, np.arange(c + 1))
        cum = np.empty(len(w))
        for k in range(c):
            s, e = starts[k], starts[k + 1]
            if e > s:
                part = np.cumsum(w[s:e])
                cum[s:e] = k + part / part[-1]
        self.cum, self.starts = cum, starts
        self.nonempty = starts[1:] > starts[:-1]
        succ = np.full(n, -1)
        for k in range(c):
            members = rng.permutation(np.flatnonzero(self.primary == k))
            succ[members[:-1]] = members[1:]
        self.successor = succ

    def draw(self, cats: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One item per entry of ``cats`` (categories with members), by popularity inside the category."""
        pos = np.searchsorted(self.cum, cats + rng.random(len(cats)), side="right")
        pos = np.clip(pos, self.starts[cats], self.starts[cats + 1] - 1)
        return self.member[pos]


def _event_counts(spec: SyntheticSpec, rng: np.random.Generator) -> np.ndarray:
    """(U,) events per user: 1 + a multinomial share of the rest by log-normal weights; sums to ``events``."""
    w = rng.lognormal(0.0, 1.0, size=spec.users)
    return 1 + rng.multinomial(spec.events - spec.users, w / w.sum())


def _user_chunks(counts: np.ndarray, chunk_events: int) -> Iterator[tuple[int, int]]:
    """[u0, u1) user ranges holding about ``chunk_events`` events each."""
    ends = np.cumsum(counts)
    u0 = 0
    while u0 < len(counts):
        base = ends[u0 - 1] if u0 else 0
        u1 = int(np.searchsorted(ends, base + chunk_events, side="right"))
        u1 = max(u1, u0 + 1)
        yield u0, min(u1, len(counts))
        u0 = u1


def _chunk(spec: SyntheticSpec, cat: _Catalogue, prefs: tuple[np.ndarray, np.ndarray], counts: np.ndarray,
           u0: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Events of users u0 .. u0 + len(counts) - 1 -> (user ids, item ids, int timestamps, action codes)."""
    c = spec.categories
    nu, ne = len(counts), int(counts.sum())
    user_of_event = np.repeat(np.arange(nu), counts)
    first_of_user = np.zeros(ne, dtype=bool)
    first_of_user[np.cumsum(counts) - counts] = True
    # sessions: a new session starts at each user's first event and with prob 1/views_per_session after
    new_session = first_of_user | (rng.random(ne) < 1.0 / spec.views_per_session)
    session = np.cumsum(new_session) - 1
    ns = int(session[-1]) + 1
    session_user = user_of_event[new_session]
    session_first = np.zeros(ns, dtype=bool)
    session_first[np.flatnonzero(first_of_user[new_session])] = True
    long_break = (rng.random(ns) < 0.06) & ~session_first
    # tastes: user base + random walk over that user's sessions
    age_pref, region_pref = prefs
    age = rng.integers(len(AGE_BANDS), size=nu)
    region = rng.integers(len(REGIONS), size=nu)
    base = age_pref[age] + region_pref[region] + rng.normal(0, 1.0, size=(nu, c))
    step = rng.normal(0, 1.0, size=(ns, c)) * (spec.drift * np.where(long_break, 3.0, 1.0))[:, None]
    step[session_first] = 0.0
    walk = np.cumsum(step, axis=0)
    first_session_idx = np.flatnonzero(session_first)
    walk -= np.repeat(walk[first_session_idx], np.diff(np.append(first_session_idx, ns)), axis=0)
    logits = base[session_user] + walk
    logits[:, ~cat.nonempty] = -np.inf
    favourite = np.argmax(logits, axis=1)
    gumbel = -np.log(-np.log(rng.random((ns, c)).clip(1e-300)))
    intent = np.argmax(logits + gumbel, axis=1)
    other = np.argmax(logits - np.log(-np.log(rng.random((ns, c)).clip(1e-300))), axis=1)
    # items: 80 % from the session's intent, else another draw from the tastes; then series successors
    ev_cat = np.where(rng.random(ne) < 0.8, intent[session], other[session])
    item = cat.draw(ev_cat, rng)
    follows = ~new_session & (rng.random(ne) < spec.series_prob)
    run_start = np.maximum.accumulate(np.where(~follows, np.arange(ne), 0))
    depth = np.arange(ne) - run_start
    for d in range(1, int(depth.max(initial=0)) + 1):
        at = np.flatnonzero(depth == d)
        nxt = cat.successor[item[at - 1]]
        item[at] = np.where(nxt >= 0, nxt, item[at])
    # funnel: deepest stage reached, deeper for the favourite category
    boost = np.where(cat.primary[item] == favourite[session], 1.5, 0.8)
    stage = np.zeros(ne, dtype=np.int64)
    alive = np.ones(ne, dtype=bool)
    for p in spec.funnel:
        alive &= rng.random(ne) < np.minimum(0.95, p * boost)
        stage += alive
    # time: gaps inside sessions, between sessions, long breaks; each user starts within 30 days
    gap = rng.exponential(90.0, size=ne) + 5.0 + stage * 30.0
    between = np.where(long_break, rng.uniform(14, 42, size=ns) * DAY, rng.exponential(1.5 * DAY, size=ns) + 600.0)
    gap[new_session] = between[session[new_session]]
    gap[first_of_user] = rng.uniform(0, 30 * DAY, size=nu)
    t = np.cumsum(gap)
    first_idx = np.flatnonzero(first_of_user)
    t -= np.repeat(t[first_idx] - gap[first_idx], counts)
    ts = (spec.start + t).astype(np.int64)
    return user_of_event + u0 + 1, item + 1, ts, stage


def generate_chunks(spec: SyntheticSpec) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Yield (user ids, item ids, timestamps, action codes into ACTIONS) chunk by chunk."""
    spec.check()
    rng = np.random.default_rng(spec.seed)
    cat = _Catalogue(spec, rng)
    prefs = (rng.normal(0, 1.2, size=(len(AGE_BANDS), spec.categories)),
             rng.normal(0, 0.8, size=(len(REGIONS), spec.categories)))
    counts = _event_counts(spec, rng)
    for u0, u1 in _user_chunks(counts, spec.chunk_events):
        chunk_rng = np.random.default_rng([spec.seed, u0])   # chunks independent: same file for any chunk order
        yield _chunk(spec, cat, prefs, counts[u0:u1], u0, chunk_rng)


def _csv_lines(users: np.ndarray, items: np.ndarray, ts: np.ndarray, stage: np.ndarray) -> str:
    names = np.asarray(ACTIONS, dtype=object)[stage]
    cols = (users.astype(str).astype(object), items.astype(str).astype(object), ts.astype(str).astype(object))
    rows = cols[0] + "," + cols[1] + "," + cols[2] + "," + names
    return "\n".join(rows.tolist()) + "\n"


def write_csv(spec: SyntheticSpec, out: str | Path,
              progress: Callable[[int], None] | None = None) -> int:
    """Write the synthetic log to ``out`` (atomically: a temporary file renamed at the end); -> events."""
    out = Path(out)
    tmp = out.with_name(out.name + ".partial")
    written = 0
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(HEADER)
            for chunk in generate_chunks(spec):
                f.write(_csv_lines(*chunk))
                written += len(chunk[0])
                if progress is not None:
                    progress(written)
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return written
