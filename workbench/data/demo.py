"""An embedded, seeded demo dataset: drifting tastes, multi-scale sessions, an action funnel.

No files needed. What the generator builds in (so every view of the workbench has signal):

- **Categories with their own vocabulary**: item titles are composed from category-specific
  words, so text alone predicts an item's category (text views have signal).
- **Power-law popularity**: item weights ~ 1 / rank^``zipf`` (popularity baselines are strong
  but not unbeatable).
- **Tastes tied to user attributes and drifting over time**: a user's category preferences
  start from their age band and region plus noise, then random-walk between sessions
  (a bigger jump after long breaks), so recent behaviour matters more than old.
- **Sequential structure**: within a category, items form "series"; the next item viewed
  is often the next in the series (order-aware models beat bag-of-items ones).
- **Multi-scale time**: minutes between events in a session, days between sessions,
  occasional weeks-long breaks.
- **Action funnel**: each engagement with an item is one event whose action is the deepest
  funnel stage reached (view -> click -> cart -> purchase); going deeper is likelier for
  items of the user's current favourite category, so actions carry taste signal. (Emitting
  each stage as its own event would make a third of next-item targets a trivial repeat of
  the previous item, which a leave-one-out evaluation then mostly rewards for copying.)

Same spec (seed included) -> identical data and dataset fingerprint.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.kinds import RawDataset

DEMO_DATASET = "demo"
DEMO_WORKSPACE = "demo"

VOCAB = {
    "sci-fi": ["star", "orbit", "nebula", "android", "galaxy", "quantum", "warp", "cosmic", "robot", "void"],
    "romance": ["heart", "kiss", "wedding", "letters", "summer", "love", "promise", "moonlight", "rose", "vows"],
    "crime": ["heist", "detective", "alibi", "murder", "gang", "witness", "smuggler", "verdict", "cartel", "noir"],
    "cooking": ["kitchen", "spice", "bread", "feast", "recipe", "garlic", "pastry", "grill", "broth", "harvest"],
    "travel": ["journey", "island", "passport", "mountain", "voyage", "desert", "harbour", "trail", "compass", "road"],
    "history": ["empire", "crown", "siege", "dynasty", "revolution", "pharaoh", "chronicle", "castle", "war", "legion"],
    "fitness": ["workout", "strength", "cardio", "yoga", "marathon", "muscle", "stretch", "sprint", "core", "endurance"],
    "kids": ["puppy", "dragon", "balloon", "castle", "rainbow", "bunny", "pirate", "treasure", "giggle", "train"],
    "horror": ["haunted", "shadow", "curse", "blood", "ghost", "crypt", "scream", "midnight", "ritual", "asylum"],
    "music": ["melody", "guitar", "rhythm", "chorus", "jazz", "symphony", "drum", "ballad", "tempo", "concert"],
    "science": ["atom", "genome", "fossil", "climate", "neuron", "physics", "cell", "volcano", "laboratory", "evolution"],
    "business": ["startup", "market", "profit", "leader", "strategy", "venture", "brand", "deal", "economy", "invest"],
}
SHAPES = ["The {a} of the {b}", "{A} and {B}", "Return of the {a}", "{A} {B}", "Secrets of the {a}",
          "A {a} Story", "{A}: {B} Edition", "Beyond the {a}"]
AGE_BANDS = ["18-24", "25-34", "35-49", "50+"]
REGIONS = ["north", "south", "east", "west", "central"]
ACTIONS = ("view", "click", "cart", "purchase")


@dataclass(frozen=True)
class DemoSpec:
    users: int = 1000
    items: int = 800
    sessions_per_user: float = 12.0
    views_per_session: float = 4.0
    zipf: float = 1.0
    drift: float = 0.7           # std of the per-session random walk of category logits
    series_prob: float = 0.35
    funnel: tuple[float, float, float] = (0.35, 0.3, 0.35)  # P(click|view), P(cart|click), P(purchase|cart)
    seed: int = 7
    start: float = 1_700_000_000.0


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def _draw(cum: np.ndarray, rng: np.random.Generator) -> int:
    """Index drawn from the distribution with cumulative probabilities ``cum`` (inverse CDF)."""
    return min(int(np.searchsorted(cum, rng.random(), side="right")), len(cum) - 1)


def _items(spec: DemoSpec, rng: np.random.Generator):
    """Item categories (N,), secondary categories, titles, popularity weights (N,) and series successor (N,)."""
    cats = list(VOCAB)
    n, c = spec.items, len(cats)
    primary = rng.integers(0, c, size=n)
    secondary = np.where(rng.random(n) < 0.3, rng.integers(0, c, size=n), -1)
    secondary[secondary == primary] = -1
    rank = rng.permutation(n)
    weight = 1.0 / (rank + 1.0) ** spec.zipf
    titles = []
    for k in range(n):
        words = VOCAB[cats[primary[k]]]
        a, b = rng.choice(len(words), size=2, replace=False)
        shape = SHAPES[rng.integers(len(SHAPES))]
        titles.append(shape.format(a=words[a], b=words[b], A=words[a].title(), B=words[b].title()))
    successor = np.full(n, -1)
    for cat in range(c):
        members = np.flatnonzero(primary == cat)
        order = rng.permutation(members)
        successor[order[:-1]] = order[1:]
    return cats, primary, secondary, titles, weight, successor


def generate(spec: DemoSpec | None = None) -> RawDataset:
    """The demo interactions as a :class:`RawDataset` (raw ids are "1".."U" and "1".."N")."""
    spec = spec or DemoSpec()
    rng = np.random.default_rng(spec.seed)
    cats, primary, secondary, titles, weight, successor = _items(spec, rng)
    c = len(cats)
    by_cat = [np.flatnonzero((primary == k) | (secondary == k)) for k in range(c)]
    cat_cum = [np.cumsum(weight[m]) / weight[m].sum() for m in by_cat]   # for inverse-CDF draws
    age_pref = rng.normal(0, 1.2, size=(len(AGE_BANDS), c))
    region_pref = rng.normal(0, 0.8, size=(len(REGIONS), c))
    p_click, p_cart, p_buy = spec.funnel

    users, items, times, actions = [], [], [], []
    user_info = {}
    for u in range(spec.users):
        age, region = int(rng.integers(len(AGE_BANDS))), int(rng.integers(len(REGIONS)))
        user_info[str(u + 1)] = {"age_band": AGE_BANDS[age], "region": REGIONS[region]}
        logits = age_pref[age] + region_pref[region] + rng.normal(0, 1.0, size=c)
        t = spec.start + rng.uniform(0, 30 * 86400)
        n_sessions = 1 + rng.poisson(spec.sessions_per_user - 1)
        for s in range(n_sessions):
            if s:
                long_break = rng.random() < 0.06
                t += rng.uniform(14, 42) * 86400 if long_break else rng.exponential(1.5 * 86400) + 600
                logits = logits + rng.normal(0, spec.drift * (3 if long_break else 1), size=c)
            pref_cum = np.cumsum(_softmax(logits))
            favourite = int(np.argmax(logits))
            intent = _draw(pref_cum, rng)
            prev = -1
            for _ in range(int(rng.geometric(1 / spec.views_per_session))):
                if prev >= 0 and successor[prev] >= 0 and rng.random() < spec.series_prob:
                    item = int(successor[prev])
                elif rng.random() < 0.8:
                    item = int(by_cat[intent][_draw(cat_cum[intent], rng)])
                else:
                    other = _draw(pref_cum, rng)
                    item = int(by_cat[other][_draw(cat_cum[other], rng)])
                t += rng.exponential(90) + 5
                boost = 1.5 if primary[item] == favourite else 0.8
                stage = 0
                for p in (p_click, p_cart, p_buy):
                    if rng.random() >= min(0.95, p * boost):
                        break
                    stage += 1
                stage_t = t + stage * rng.uniform(10, 60)
                users.append(u + 1), items.append(item + 1), times.append(t), actions.append(ACTIONS[stage])
                t = stage_t
                prev = item
    item_info = {}
    pop_rank = np.empty(spec.items, dtype=np.int64)
    pop_rank[np.argsort(-weight, kind="stable")] = np.arange(1, spec.items + 1)
    for k in range(spec.items):
        cs = [cats[primary[k]]] + ([cats[secondary[k]]] if secondary[k] >= 0 else [])
        item_info[str(k + 1)] = {"title": titles[k], "categories": cs,
                                 "text": f"{titles[k]}. Categories: {', '.join(cs)}",
                                 "extra": {"popularity_rank": int(pop_rank[k])}}
    return RawDataset(users=[str(u) for u in users], items=[str(i) for i in items],
                      timestamps=[round(x, 3) for x in times], actions=actions,
                      item_info=item_info, user_info=user_info)


def import_demo(ws, spec: DemoSpec | None = None, name: str = DEMO_DATASET, replace: bool = False):
    """Generate and import the demo dataset into ``ws``; returns the ImportSummary."""
    from dataclasses import asdict

    from workbench.data.importer import import_raw

    spec = spec or DemoSpec()
    return import_raw(ws, generate(spec), name=name, fmt="demo", replace=replace,
                      extra_options={"demo_spec": asdict(spec)})


def ensure_demo_workspace(spec: str | None = None, demo: DemoSpec | None = None):
    """Open (creating if needed) the demo workspace and import the ``demo`` dataset if absent.

    ``spec`` is a workspace path or name (default: ``demo`` in the workspaces home, which
    honours ``WORKBENCH_HOME``). Returns the open :class:`~workbench.store.Workspace`.
    """
    from workbench.data.importer import dataset_exists
    from workbench.store import open_workspace

    ws = open_workspace(spec or DEMO_WORKSPACE, create=True)
    if not dataset_exists(ws, DEMO_DATASET):
        import_demo(ws, demo)
    return ws
