"""Warm starts across runs and datasets: ``init_from = RUN`` (see docs/experiments.md, "Transfer").

A new run starts from a stored run's best weights: every tensor of the new model whose name and
shape match the source's is loaded; item-indexed tensors (first dimension N+1: ID embedding
tables, a head's own item table, the SQN head's Q layer) are copied row by row through an item
mapping, so two datasets with different item ids can share what was learned about the same
films; everything else keeps its fresh initialisation. Items are matched

- by raw id (``items = "id"``),
- by normalised title and year (``items = "title"``: case, accents, punctuation, a trailing
  article ("Shawshank Redemption, The" = "The Shawshank Redemption") and alternative titles in
  brackets are ignored; a title without a year match is used when it is unique on both sides),
- ``"auto"``: raw ids when the two datasets are the same, or when at least 90 % of the items
  whose raw ids agree also agree by title (or there are no titles); titles otherwise.

Items left unmatched keep fresh rows. A content view (``text``, ``precomputed``) has no
per-item parameters: with its adapter loaded it gives unmatched items vectors from their text
or features, which is the only way they are "rebuilt" here (no ID row is synthesised).

``warm_start(ws, cfg, model, dataset)`` returns the report (what was loaded, mapped and left
fresh) that the run stores as a log event and ``workbench run`` prints.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np

from workbench.options import ConfigError

ARTICLES = ("the", "a", "an", "la", "le", "les", "l'", "il", "el", "der", "die", "das", "den", "det")
ID_AGREEMENT = 0.9


# ------------------------------------------------------------------ item matching
def title_key(title: str) -> tuple[str, str]:
    """(normalised name, year or "") of a title such as "Shawshank Redemption, The (1994)"."""
    t = unicodedata.normalize("NFKD", title or "").encode("ascii", "ignore").decode().lower().strip()
    years = re.findall(r"\((\d{4})\)", t)
    year = years[-1] if years else ""
    t = re.sub(r"\([^)]*\)", " ", t)                      # the year and alternative titles in brackets
    t = re.sub(r"\s+", " ", t).strip()
    m = re.match(r"^(.*), (%s)$" % "|".join(re.escape(a) for a in ARTICLES), t)
    if m:                                                 # "Godfather, The" -> "the godfather"
        t = f"{m.group(2)} {m.group(1)}"
    t = re.sub(r"[^a-z0-9]+", " ", t).strip()
    return t, year


def _unique_index(keys: list[Any]) -> dict[Any, int]:
    """key -> index for keys that occur exactly once (index 0 and empty keys skipped)."""
    seen: dict[Any, int] = {}
    dup: set = set()
    for i, k in enumerate(keys):
        if i == 0 or not k or (isinstance(k, tuple) and not k[0]):
            continue
        if k in seen:
            dup.add(k)
        seen[k] = i
    return {k: i for k, i in seen.items() if k not in dup}


def match_by_id(src_raw: list[str], tgt_raw: list[str]) -> np.ndarray:
    """(N_tgt+1,) source internal id of each target item with the same raw id, -1 where none (0 -> 0)."""
    where = {r: i for i, r in enumerate(src_raw) if i > 0 and r != ""}
    out = np.array([-1] + [where.get(r, -1) for r in tgt_raw[1:]], dtype=np.int64)
    out[0] = 0
    return out


def match_by_title(src_titles: list[str], tgt_titles: list[str]) -> np.ndarray:
    """(N_tgt+1,) source id of each target item with the same (name, year), else the same name when that
    name is unique in both catalogues; -1 where none."""
    src_keys = [title_key(t) for t in src_titles]
    tgt_keys = [title_key(t) for t in tgt_titles]
    by_key = _unique_index(src_keys)
    by_name = _unique_index([k[0] for k in src_keys])
    tgt_names = _unique_index([k[0] for k in tgt_keys])
    out = np.full(len(tgt_titles), -1, dtype=np.int64)
    out[0] = 0
    used: set[int] = set()
    for i in range(1, len(tgt_titles)):
        k = tgt_keys[i]
        if k[0] and k in by_key:
            out[i] = by_key[k]
    used.update(int(x) for x in out[1:] if x > 0)
    for i in range(1, len(tgt_titles)):
        name = tgt_keys[i][0]
        if out[i] < 0 and name and name in by_name and name in tgt_names and by_name[name] not in used:
            out[i] = by_name[name]
            used.add(by_name[name])
    return out


def item_mapping(mode: str, src_raw: list[str], src_titles: list[str], tgt_raw: list[str], tgt_titles: list[str],
                 same_dataset: bool) -> tuple[str, np.ndarray]:
    """-> (the mode used: id | title | none, (N_tgt+1,) source id per target item or -1)."""
    n = len(tgt_raw)
    if mode == "none":
        out = np.full(n, -1, dtype=np.int64)
        out[0] = 0
        return "none", out
    has_titles = any(src_titles[1:]) and any(tgt_titles[1:])
    if mode == "title" and not has_titles:
        raise ConfigError("init_from.items: \"title\" needs item titles in both datasets; "
                          f"{'the source' if not any(src_titles[1:]) else 'this'} dataset has none")
    by_id = match_by_id(src_raw, tgt_raw)
    if mode == "id":
        return "id", by_id
    if mode == "title":
        return "title", match_by_title(src_titles, tgt_titles)
    if same_dataset or not has_titles:
        return "id", by_id
    both = np.flatnonzero(by_id[1:] >= 0) + 1
    titled = [i for i in both if tgt_titles[i] and src_titles[by_id[i]]]
    agree = sum(title_key(tgt_titles[i]) == title_key(src_titles[by_id[i]]) for i in titled)
    if titled and agree >= ID_AGREEMENT * len(titled):
        return "id", by_id
    return "title", match_by_title(src_titles, tgt_titles)


# ------------------------------------------------------------------ weights
def transfer_weights(target_state: dict, source_state: dict, mapping: np.ndarray, n_source_items: int,
                     n_target_items: int) -> tuple[dict, dict]:
    """-> (the new target state dict, report). Tensors named alike: same shape -> copied ("loaded");
    item-indexed (first dimension N+1 in both, other dimensions equal) -> rows copied through
    ``mapping`` ("mapped"); otherwise kept ("fresh", with the reason)."""
    import torch

    new_state, loaded, mapped, fresh = {}, [], [], []
    rows_tgt = np.flatnonzero(mapping >= 0)
    rows_src = mapping[rows_tgt]
    identity = n_source_items == n_target_items and np.array_equal(mapping, np.arange(len(mapping)))
    for name, value in target_state.items():
        src = source_state.get(name)
        new_state[name] = value
        if src is None:
            fresh.append({"name": name, "reason": "not in the source model"})
            continue
        item_indexed = (value.dim() >= 1 and src.dim() == value.dim() and value.shape[0] == n_target_items + 1
                        and src.shape[0] == n_source_items + 1 and value.shape[1:] == src.shape[1:])
        if item_indexed and not identity:
            if len(rows_tgt) <= 1:                         # only the padding row
                fresh.append({"name": name, "reason": "item-indexed and no item matched"})
                continue
            out = value.clone()
            idx_t = torch.as_tensor(rows_tgt, device=value.device)
            out[idx_t] = src.to(value.device, value.dtype)[torch.as_tensor(rows_src, device=src.device)]
            new_state[name] = out
            mapped.append({"name": name, "rows": int(len(rows_tgt) - 1), "of": int(n_target_items)})
        elif tuple(src.shape) == tuple(value.shape):
            new_state[name] = src.to(value.device, value.dtype).clone()
            loaded.append(name)
        else:
            fresh.append({"name": name, "reason": f"shape {tuple(src.shape)} in the source, "
                                                  f"{tuple(value.shape)} here"})
    unused = sorted(set(source_state) - set(target_state))
    return new_state, {"loaded": loaded, "mapped": mapped, "fresh": fresh, "unused_source_tensors": unused}


# ------------------------------------------------------------------ runs
def _source_workspace(ws, opts):
    from workbench.store import open_workspace
    if not opts.workspace:
        return ws, False
    try:
        return open_workspace(opts.workspace), True
    except Exception as e:  # noqa: BLE001 - any failure to open is a config error here
        raise ConfigError(f"init_from.workspace: cannot open {opts.workspace!r}: {e}") from None


def check_init_from(ws, cfg) -> None:
    """Fail early (at create_run) when ``init_from`` names no usable run: ConfigError naming the key."""
    opts = cfg.init_from
    if opts is None:
        return
    from workbench.engine.checkpoint import checkpoint_path
    from workbench.store.catalogue import run_source
    src_ws, own = _source_workspace(ws, opts)
    try:
        try:
            row = run_source(src_ws, opts.run)
        except KeyError as e:
            raise ConfigError(f"init_from.run: {e.args[0]}") from None
        if checkpoint_path(src_ws, opts.run, "best") is None:
            raise ConfigError(f"init_from.run: run {opts.run} has no best checkpoint (status {row['status']}); "
                              "warm-start from a completed run")
        if row["dataset"] is None:
            raise ConfigError(f"init_from.run: the dataset of run {opts.run} was removed from {src_ws.path}")
    finally:
        if own:
            src_ws.close()


def warm_start(ws, cfg, model, dataset) -> dict:
    """Load run ``cfg.init_from.run``'s best weights into ``model`` (built on ``dataset``) in place.
    Returns the report (also what ``summary_lines`` prints)."""
    from workbench.engine.checkpoint import checkpoint_path, load_checkpoint
    from workbench.store.catalogue import item_catalogue, run_source
    opts = cfg.init_from
    src_ws, own = _source_workspace(ws, opts)
    try:
        row = run_source(src_ws, opts.run)
        path = checkpoint_path(src_ws, opts.run, "best")
        if path is None:
            raise ConfigError(f"init_from.run: run {opts.run} has no best checkpoint (status {row['status']})")
        source_state = load_checkpoint(path, "cpu")["model"]
        src_raw, src_titles = item_catalogue(src_ws, row["dataset"])
        src_path = str(Path(src_ws.path))
    finally:
        if own:
            src_ws.close()
    same = row["fingerprint"] == dataset.fingerprint and row["dataset"] == dataset.name
    mode, mapping = item_mapping(opts.items, src_raw, src_titles, dataset.item_raw_ids, dataset.item_titles, same)
    target_state = model.state_dict()
    new_state, report = transfer_weights(target_state, source_state, mapping, len(src_raw) - 1, dataset.n_items)
    model.load_state_dict(new_state)
    matched = int((mapping[1:] >= 0).sum())
    unmatched = [dataset.item_titles[i] or dataset.item_raw_ids[i] for i in np.flatnonzero(mapping[1:] < 0) + 1]
    report = {"source": {"run": opts.run, "workspace": src_path, "dataset": row["dataset"]},
              "items": {"mode": mode, "requested": opts.items, "matched": matched, "total": int(dataset.n_items),
                        "unmatched_examples": unmatched[:10]},
              **report}
    return report


def summary_lines(report: dict) -> list[str]:
    """Human-readable lines of a warm-start report."""
    src, items = report["source"], report["items"]
    lines = [f"init_from: run {src['run']} (dataset {src['dataset']!r}): {len(report['loaded'])} tensors loaded, "
             f"{len(report['mapped'])} item-indexed tensors mapped, {len(report['fresh'])} left fresh"]
    if items["mode"] == "none":
        lines.append("  items: not matched (items = \"none\"): item-indexed tensors left fresh")
    else:
        lines.append(f"  items matched by {items['mode']} (asked: {items['requested']}): "
                     f"{items['matched']:,} of {items['total']:,}; the other {items['total'] - items['matched']:,} "
                     "keep fresh rows")
    for m in report["mapped"]:
        lines.append(f"  mapped {m['name']}: {m['rows']:,} of {m['of']:,} item rows")
    for f in report["fresh"]:
        lines.append(f"  fresh  {f['name']}: {f['reason']}")
    return lines
