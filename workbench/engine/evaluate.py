"""The evaluation driver: user states -> scores -> rankings -> metrics, per group.

Protocol: full ranking over all N items by default, the user's training items
excluded (``exclude_seen``; the held-out target is always ranked, even when the
user saw it before), ties pessimistic (see :mod:`workbench.engine.ranking`).
``mode="sampled"`` ranks the target against ``num_negatives`` items sampled
uniformly or by training popularity among the items the user never saw; every
metric name is then prefixed ``sampled_`` so it is never confused with
full-ranking numbers.

History-length groups (multi-scale breakdown): a user is ``short`` when the
full training history length h <= b1, ``medium`` when b1 < h <= b2, ``long``
when h > b2. By default (b1, b2) are the 1/3 and 2/3 quantiles ("terciles",
lower interpolation) of the evaluated users' history lengths, so each group
holds about a third of the users on any dataset (fixed thresholds such as 20 /
100 leave ML-1M's short group nearly empty because every ML-1M user has >= 20
ratings). Pass ``group_bounds=(b1, b2)`` for fixed boundaries.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np
import torch

from workbench.engine.eval_types import EvalBatch
from workbench.engine.ranking import BatchRanking, RankBuffers, rank_full, rank_full_dot, rank_sampled
from workbench.kinds import Evaluator, Rankings
from workbench.model.base import SeqBatch

GROUPS = ("short", "medium", "long")
DEFAULT_TOPK = 20


@dataclass
class EvalResult:
    """What one evaluation pass produced.

    - ``metrics``: metric name -> mean over all evaluated users (``sampled_`` prefix in sampled mode).
    - ``groups``: "short" / "medium" / "long" -> the same metrics over that group's users
      (a group with no users is absent).
    - ``group_bounds`` (b1, b2) and ``group_sizes`` (users per group): see the module docstring.
    - ``forward_s``: seconds in ``encode`` (the model forward); ``ranking_s``: everything
      after it (score, exclusion, rank, top-K, metrics); ``timings``: those stages one by one.
    - ``rankings``: the concatenated :class:`workbench.kinds.Rankings` (numpy), plus ``users`` (U,).
    """

    metrics: dict[str, float]
    groups: dict[str, dict[str, float]]
    forward_s: float
    ranking_s: float
    num_users: int
    rankings: Rankings
    users: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    group_bounds: tuple[int, int] = (0, 0)
    group_sizes: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    mode: str = "full"

    def summary(self) -> dict[str, Any]:
        """JSON-ready record of the numbers (no per-user arrays): for storing with a run."""
        return {"mode": self.mode, "num_users": self.num_users, "metrics": dict(self.metrics),
                "groups": {g: dict(m) for g, m in self.groups.items()},
                "group_bounds": list(self.group_bounds), "group_sizes": dict(self.group_sizes),
                "forward_s": self.forward_s, "ranking_s": self.ranking_s, "timings": dict(self.timings)}


def required_topk(evaluators: Iterable[Evaluator], default: int = DEFAULT_TOPK) -> int:
    """Length of the top-K lists to compute: the largest ``max_k`` any evaluator declares.

    Evaluators without a ``max_k`` attribute (third-party) get ``default``.
    """
    ks = [int(getattr(ev, "max_k", default)) for ev in evaluators]
    return max([1, *ks]) if ks else default


def history_groups(history_length: np.ndarray,
                   bounds: tuple[int, int] | None = None) -> tuple[tuple[int, int], dict[str, np.ndarray]]:
    """Assign users to short / medium / long by history length.

    Returns ``((b1, b2), {group: (U,) bool mask})``: short h <= b1 < medium h <= b2 < long.
    ``bounds=None`` uses the terciles of ``history_length``.
    """
    h = np.asarray(history_length, dtype=np.int64)
    if bounds is None:
        if h.size == 0:
            b1 = b2 = 0
        else:
            b1, b2 = (int(q) for q in np.quantile(h, [1 / 3, 2 / 3], method="lower"))
    else:
        b1, b2 = int(bounds[0]), int(bounds[1])
        if b1 > b2:
            raise ValueError(f"group_bounds must be increasing, got ({b1}, {b2})")
    masks = {"short": h <= b1, "medium": (h > b1) & (h <= b2), "long": h > b2}
    return (b1, b2), masks


def subset_rankings(r: Rankings, mask: np.ndarray) -> Rankings:
    """The rankings of the users selected by ``mask`` (U,) bool."""
    return Rankings(target_rank=r.target_rank[mask], topk=r.topk[mask], targets=r.targets[mask],
                    num_candidates=r.num_candidates[mask], item_popularity=r.item_popularity,
                    history_length=r.history_length[mask], sampled=r.sampled,
                    target_actions=None if r.target_actions is None else r.target_actions[mask],
                    action_names=r.action_names)


def compute_metrics(evaluators: Iterable[Evaluator], rankings: Rankings) -> dict[str, float]:
    """Run every evaluator; in sampled mode make sure each name carries the ``sampled_`` label."""
    out: dict[str, float] = {}
    for ev in evaluators:
        for name, value in ev.evaluate(rankings).items():
            if rankings.sampled and not name.startswith("sampled_"):
                name = "sampled_" + name
            out[name] = float(value)
    return out


def _full_precision(device: torch.device):
    """A context that switches autocast off for scoring (float32 scores even inside an AMP region)."""
    import contextlib

    try:
        return torch.autocast(device_type=device.type, enabled=False)
    except (RuntimeError, ValueError):   # a device type without autocast support
        return contextlib.nullcontext()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _as_popularity(item_popularity: Any, num_items: int) -> np.ndarray:
    pop = item_popularity.detach().cpu().numpy() if isinstance(item_popularity, torch.Tensor) \
        else np.asarray(item_popularity)
    pop = pop.astype(np.float64)
    if pop.shape != (num_items + 1,):
        raise ValueError(f"item_popularity must have shape ({num_items + 1},) (index 0 = padding), got {pop.shape}")
    return pop


def evaluate(encode: Callable[[SeqBatch], torch.Tensor],
             score: Callable[[torch.Tensor, SeqBatch], torch.Tensor],
             batches: Iterable[EvalBatch], *, num_items: int, item_popularity: Any,
             evaluators: list[Evaluator], exclude_seen: bool = True, mode: str = "full",
             num_negatives: int = 100, negative_sampling: str = "uniform", seed: int = 0,
             device: Any = None, group_bounds: tuple[int, int] | None = None,
             topk: int | None = None, auxiliary: tuple[Callable, Callable] | None = None,
             score_table: Callable[[], torch.Tensor | None] | None = None,
             gather: Callable | None = None, action_names: Iterable[str] = ()) -> EvalResult:
    """Evaluate a model on ``batches`` and return metrics overall and per history-length group.

    ``encode(batch) -> (B, d)`` user states; ``score(states, batch) -> (B, N+1)``.
    ``device``: where batches are moved before ``encode`` (None = leave them as they are).
    ``topk``: length of the stored top-K lists (default: what the evaluators need, at least 1).
    ``auxiliary``: ``(outputs(states, batch) -> {name: tensor}, metrics({name: tensor}) -> {name: float})``
    for a head's auxiliary task (e.g. next action): outputs are concatenated over all batches
    and the metrics computed once, then merged into ``metrics`` (not into the groups).
    ``action_names``: the dataset's action vocabulary; the held-out events' action ids then reach
    the evaluators as ``Rankings.target_actions`` (e.g. for metrics on purchase targets only).
    ``score`` runs with autocast switched off and float32 states, even when the caller evaluates
    inside an AMP region: bf16 scores create artificial ties, which pessimistic ranking punishes.
    ``score_table() -> (N+1, d) | None``: when it gives a table T and ``score`` is ``states @ T.T``
    (a dot-product head), full ranking scores the catalogue in item blocks from T and never builds
    the (B, N+1) score matrix (memory O(B x block + B x K)); ``score`` is then not called.
    ``gather(parts, aux_parts) -> (parts, aux_parts)``: with several ranks each evaluating its share
    of the users, the per-user arrays of all of them (see :mod:`workbench.engine.distributed`).
    Raises ValueError for an unknown mode / sampling, no evaluation cases, or NaN scores.
    """
    if mode not in ("full", "sampled"):
        raise ValueError(f"unknown evaluation mode {mode!r} (use 'full' or 'sampled')")
    if negative_sampling not in ("uniform", "popularity"):
        raise ValueError(f"unknown negative_sampling {negative_sampling!r} (use 'uniform' or 'popularity')")
    if mode == "sampled" and num_negatives < 1:
        raise ValueError(f"num_negatives must be >= 1, got {num_negatives}")
    pop = _as_popularity(item_popularity, num_items)
    k = int(topk) if topk is not None else required_topk(evaluators)
    dev = torch.device(device) if device is not None else None
    timings = {"score_s": 0.0, "rank_s": 0.0, "metrics_s": 0.0}
    forward_s = 0.0
    parts: dict[str, list[np.ndarray]] = {n: [] for n in
                                          ("target_rank", "topk", "targets", "num_candidates", "history", "users",
                                           "actions")}
    generator, weights = None, None
    aux_parts: dict[str, list] = {}
    buffers = RankBuffers()
    with torch.no_grad(), contextlib.closing(buffers):     # closing: the ranking worker threads end
        table = score_table() if score_table is not None and mode == "full" else None
        table = table.detach().float() if table is not None else None
        for eb in batches:
            if dev is not None:
                eb = eb.to(dev)
            here = eb.target_items.device
            t0 = time.perf_counter()
            states = encode(eb.batch)
            _sync(here)
            t1 = time.perf_counter()
            if table is not None:
                if auxiliary is not None:
                    for name, value in auxiliary[0](states, eb.batch).items():
                        aux_parts.setdefault(name, []).append(value.detach().cpu())
                with _full_precision(here):
                    t2 = time.perf_counter()   # scoring happens inside the blocked ranking
                    ranked = rank_full_dot(states.float(), table.to(here, non_blocking=True), eb.target_items,
                                           eb.seen_rows, eb.seen_items, k, exclude_seen, buffers)
            else:
                with _full_precision(here):   # bf16 scores would tie and the pessimistic rule would punish that
                    scores = score(states.float() if states.is_floating_point() else states, eb.batch)
                if scores.shape != (eb.target_items.shape[0], num_items + 1):
                    raise ValueError(f"score() returned shape {tuple(scores.shape)}, expected "
                                     f"({eb.target_items.shape[0]}, {num_items + 1}) (column 0 = padding)")
                scores = scores.float()
                if auxiliary is not None:
                    for name, value in auxiliary[0](states, eb.batch).items():
                        aux_parts.setdefault(name, []).append(value.detach().cpu())
                if torch.isnan(scores).any():
                    raise ValueError("the model produced NaN scores; its metrics would be meaningless")
                _sync(here)
                t2 = time.perf_counter()
                if mode == "full":
                    ranked = rank_full(scores, eb.target_items, eb.seen_rows, eb.seen_items, k, exclude_seen,
                                       buffers)
                else:
                    if generator is None:
                        generator = torch.Generator(device=here).manual_seed(seed)
                        if negative_sampling == "popularity":
                            weights = torch.as_tensor(pop, dtype=torch.float32, device=here).clamp_min(0)
                            weights[0] = 0.0
                    ranked = rank_sampled(scores, eb.target_items, eb.seen_rows, eb.seen_items, k,
                                          num_negatives, weights, generator)
            _collect(parts, ranked, eb)
            t3 = time.perf_counter()
            forward_s += t1 - t0
            timings["score_s"] += t2 - t1
            timings["rank_s"] += t3 - t2
    if gather is not None:
        parts, aux_parts = gather(parts, aux_parts)
    if not parts["targets"]:
        raise ValueError("no evaluation cases: every user was filtered out (too short histories?)")
    cat = {n: np.concatenate(v) for n, v in parts.items() if v}
    rankings = Rankings(target_rank=cat["target_rank"], topk=cat["topk"], targets=cat["targets"],
                        num_candidates=cat["num_candidates"], item_popularity=pop,
                        history_length=cat["history"], sampled=mode == "sampled",
                        target_actions=cat.get("actions"), action_names=tuple(action_names))
    t4 = time.perf_counter()
    metrics = compute_metrics(evaluators, rankings)
    if auxiliary is not None and aux_parts:
        metrics.update(auxiliary[1]({n: torch.cat(v) for n, v in aux_parts.items()}))
    bounds, masks = history_groups(rankings.history_length, group_bounds)
    groups, sizes = {}, {}
    for g in GROUPS:
        sizes[g] = int(masks[g].sum())
        if sizes[g]:
            groups[g] = compute_metrics(evaluators, subset_rankings(rankings, masks[g]))
    timings["metrics_s"] = time.perf_counter() - t4
    return EvalResult(metrics=metrics, groups=groups, forward_s=forward_s,
                      ranking_s=sum(timings.values()), num_users=len(rankings.targets), rankings=rankings,
                      users=cat["users"], group_bounds=bounds, group_sizes=sizes, timings=timings, mode=mode)


def _collect(parts: dict[str, list[np.ndarray]], ranked: BatchRanking, eb: EvalBatch) -> None:
    parts["target_rank"].append(ranked.target_rank.cpu().numpy())
    parts["topk"].append(ranked.topk.cpu().numpy())
    parts["num_candidates"].append(ranked.num_candidates.cpu().numpy())
    parts["targets"].append(eb.target_items.cpu().numpy())
    parts["history"].append(eb.history_length.cpu().numpy())
    parts["users"].append(eb.users.cpu().numpy())
    if eb.batch.target_actions is not None:
        parts["actions"].append(eb.batch.target_actions[:, -1].cpu().numpy())


def build_evaluators(choices: Iterable | dict[str, dict] | None = None, registry=None) -> list[Evaluator]:
    """The evaluator plugins of an experiment, instantiated: the one place evaluators are built
    (training, evaluation of a stored run, benchmarks).

    ``choices``: the parsed ``ExperimentConfig.evaluators`` (:class:`~workbench.engine.config.PluginChoice`,
    options already validated), or ``{name: {option: value}}`` (validated here: bad options raise
    :class:`workbench.options.ConfigError` naming ``evaluators.<name>.<key>``), or ``None`` for the
    default evaluators (those claiming the ``evaluators`` role, with their default options; for the
    built-ins: ranking, coverage and novelty at K = 5, 10, 20).
    """
    from workbench.options import parse_options
    from workbench.plugins import get_registry

    reg = registry or get_registry()
    if choices is None:
        choices = {name: {} for name in reg.defaults("evaluators")}
    if isinstance(choices, dict):
        parsed = [(name, parse_options(reg.get("evaluator", name).options, values, f"evaluators.{name}"))
                  for name, values in choices.items()]
    else:
        parsed = [(choice.type, choice.options) for choice in choices]
    return [reg.get("evaluator", name).load()(options) for name, options in parsed]
