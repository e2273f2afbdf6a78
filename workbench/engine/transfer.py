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

Items left unmatched are rebuilt from item text (``unmatched = "text"``; ``"auto"``, the default,
does so when the experiment has a ``text`` view): every title/categories/text of both catalogues is
embedded by the text view's sentence model (its ``model`` and ``fields``; the text view's defaults when
the experiment has none), and each item-indexed row of an unmatched item becomes the mean of the rows
of its ``neighbours`` nearest source items by cosine similarity, weighted by max(cos, 0)
(:func:`text_neighbours`). Unmatched items without text, or whose nearest items all have cos <= 0,
keep fresh rows, as every unmatched item does with ``unmatched = "fresh"``. A content view (``text``,
``precomputed``) has no per-item parameters: with its adapter loaded it also gives unmatched items
vectors from their text or features.

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
def text_neighbours(source_vectors: np.ndarray, target_vectors: np.ndarray, rows: np.ndarray, k: int,
                    chunk: int = 1024) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The text rebuild rule. For each target item in ``rows``: the ``k`` source items (ids >= 1 with a
    non-zero text vector) of highest cosine similarity between text vectors, and weights max(cos, 0)
    normalised to sum 1. -> (rebuilt target rows (R,), their source neighbours (R, k), weights (R, k));
    target items without text, or whose k nearest all have cos <= 0, are left out (they stay fresh)."""
    def unit(x):
        x = np.asarray(x, dtype=np.float64)
        n = np.linalg.norm(x, axis=1, keepdims=True)
        return np.divide(x, n, out=np.zeros_like(x), where=n > 0), n[:, 0] > 0

    src, src_has = unit(source_vectors)
    tgt, tgt_has = unit(target_vectors)
    src_has[0] = False
    candidates = np.flatnonzero(src_has)
    rows = np.asarray([r for r in rows if r > 0 and tgt_has[r]], dtype=np.int64)
    empty = (np.zeros(0, np.int64), np.zeros((0, k), np.int64), np.zeros((0, k)))
    if len(candidates) == 0 or len(rows) == 0:
        return empty
    k = min(k, len(candidates))
    out_rows, out_idx, out_w = [], [], []
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        sims = tgt[part] @ src[candidates].T                                  # (r, C)
        top = np.argsort(-sims, axis=1, kind="stable")[:, :k]                  # ties: the lower source id
        w = np.clip(np.take_along_axis(sims, top, axis=1), 0.0, None)
        total = w.sum(1)
        keep = total > 0
        out_rows.append(part[keep])
        out_idx.append(candidates[top[keep]])
        out_w.append(w[keep] / total[keep, None])
    return np.concatenate(out_rows), np.concatenate(out_idx), np.concatenate(out_w)


def transfer_weights(target_state: dict, source_state: dict, mapping: np.ndarray, n_source_items: int,
                     n_target_items: int, rebuild: tuple | None = None) -> tuple[dict, dict]:
    """-> (the new target state dict, report). Tensors named alike: same shape -> copied ("loaded");
    item-indexed (first dimension N+1 in both, other dimensions equal) -> rows copied through
    ``mapping`` ("mapped"), and the rows of ``rebuild = (rows, neighbours, weights)`` (from
    :func:`text_neighbours`) set to the weighted mean of their neighbours' source rows; otherwise kept
    ("fresh", with the reason)."""
    import torch

    new_state, loaded, mapped, fresh = {}, [], [], []
    rows_tgt = np.flatnonzero(mapping >= 0)
    rows_src = mapping[rows_tgt]
    identity = n_source_items == n_target_items and np.array_equal(mapping, np.arange(len(mapping)))
    rebuilt_rows = rebuild[0] if rebuild is not None else np.zeros(0, np.int64)
    for name, value in target_state.items():
        src = source_state.get(name)
        new_state[name] = value
        if src is None:
            fresh.append({"name": name, "reason": "not in the source model"})
            continue
        item_indexed = (value.dim() >= 1 and src.dim() == value.dim() and value.shape[0] == n_target_items + 1
                        and src.shape[0] == n_source_items + 1 and value.shape[1:] == src.shape[1:])
        if item_indexed and not identity:
            if len(rows_tgt) <= 1 and len(rebuilt_rows) == 0:       # only the padding row
                fresh.append({"name": name, "reason": "item-indexed and no item matched"})
                continue
            out = value.clone()
            source = src.to(value.device, value.dtype)
            out[torch.as_tensor(rows_tgt, device=value.device)] = source[torch.as_tensor(rows_src, device=value.device)]
            if len(rebuilt_rows):
                neighbours = source[torch.as_tensor(rebuild[1], device=value.device)]          # (R, k, ...)
                w = torch.as_tensor(rebuild[2], device=value.device, dtype=torch.float64)
                w = w.reshape(*w.shape, *([1] * (neighbours.dim() - 2)))
                out[torch.as_tensor(rebuilt_rows, device=value.device)] = \
                    (w * neighbours.double()).sum(1).to(value.dtype)
            new_state[name] = out
            mapped.append({"name": name, "rows": int(len(rows_tgt) - 1), "of": int(n_target_items),
                           "rebuilt": int(len(rebuilt_rows))})
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
    from workbench.store.catalogue import item_contents, run_source
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
        if opts.unmatched == "text":
            for w, name, whose in ((src_ws, row["dataset"], "the source"), (ws, cfg.dataset, "this")):
                if name and not any(any(part) for part in zip(*item_contents(w, name))):
                    raise ConfigError(f"init_from.unmatched: \"text\" needs item titles, categories or texts; "
                                      f"{whose} dataset ({name!r}) has none")
    finally:
        if own:
            src_ws.close()


def _text_view_options(cfg):
    """The text space of a text rebuild: the experiment's first ``text`` view's options, else its defaults."""
    try:
        from workbench_plugins.views.text import TextOptions
    except ImportError:                                    # pragma: no cover - the built-in plugins are installed
        raise ConfigError("init_from.unmatched: \"text\" needs the built-in text view (workbench_plugins)") from None
    view = next((v for v in cfg.views if v.type == "text"), None)
    return view.options if view is not None else TextOptions()


def rebuild_from_text(ws, cfg, source_contents, dataset, rows: np.ndarray):
    """(rows, neighbours, weights) of :func:`text_neighbours` for the unmatched target ``rows``, and what the
    report says about it. Texts are embedded by the text view's model (cached in ``ws``)."""
    from workbench_plugins.views._text_cache import encode_texts, item_text
    o = _text_view_options(cfg)
    src_titles, src_cats, src_texts = source_contents

    def texts(titles, cats, bodies):
        return [""] + [item_text(titles[k], cats[k], bodies[k], o.fields) for k in range(1, len(titles))]
    tgt = texts(dataset.item_titles, dataset.item_categories, dataset.item_texts)
    if not any(tgt[k] for k in rows):
        return None, {"model": o.model, "fields": list(o.fields), "neighbours": cfg.init_from.neighbours,
                      "note": "no unmatched item has text"}
    src = texts(src_titles, src_cats, src_texts)
    try:
        src_vecs, _ = encode_texts(src, o.model, ws, o.encode_batch_size, o.encode_device)
        tgt_vecs, _ = encode_texts(tgt, o.model, ws, o.encode_batch_size, o.encode_device)
    except ValueError as e:
        raise ConfigError(f"init_from.unmatched: {e}") from None
    rebuild = text_neighbours(src_vecs, tgt_vecs, rows, cfg.init_from.neighbours)
    examples = [{"item": dataset.item_titles[r] or dataset.item_raw_ids[r],
                 "from": [src_titles[j] for j in nb[:3]]} for r, nb in zip(rebuild[0][:5], rebuild[1][:5])]
    return rebuild, {"model": o.model, "fields": list(o.fields), "neighbours": cfg.init_from.neighbours,
                     "examples": examples}


def warm_start(ws, cfg, model, dataset) -> dict:
    """Load run ``cfg.init_from.run``'s best weights into ``model`` (built on ``dataset``) in place.
    Returns the report (also what ``summary_lines`` prints)."""
    from workbench.engine.checkpoint import checkpoint_path, load_checkpoint
    from workbench.store.catalogue import item_catalogue, item_contents, run_source
    opts = cfg.init_from
    text_rebuild = opts.unmatched == "text" or (opts.unmatched == "auto" and any(v.type == "text" for v in cfg.views))
    src_ws, own = _source_workspace(ws, opts)
    try:
        row = run_source(src_ws, opts.run)
        path = checkpoint_path(src_ws, opts.run, "best")
        if path is None:
            raise ConfigError(f"init_from.run: run {opts.run} has no best checkpoint (status {row['status']})")
        source_state = load_checkpoint(path, "cpu")["model"]
        src_raw, src_titles = item_catalogue(src_ws, row["dataset"])
        contents = item_contents(src_ws, row["dataset"]) if text_rebuild else None
        src_path = str(Path(src_ws.path))
    finally:
        if own:
            src_ws.close()
    same = row["fingerprint"] == dataset.fingerprint and row["dataset"] == dataset.name
    mode, mapping = item_mapping(opts.items, src_raw, src_titles, dataset.item_raw_ids, dataset.item_titles, same)
    unmatched_rows = np.flatnonzero(mapping[1:] < 0) + 1
    rebuild, text_report = None, None
    if text_rebuild and mode != "none" and len(unmatched_rows):
        rebuild, text_report = rebuild_from_text(ws, cfg, contents, dataset, unmatched_rows)
    target_state = model.state_dict()
    new_state, report = transfer_weights(target_state, source_state, mapping, len(src_raw) - 1, dataset.n_items,
                                         rebuild)
    model.load_state_dict(new_state)
    matched = int((mapping[1:] >= 0).sum())
    rebuilt = set(rebuild[0].tolist()) if rebuild is not None else set()
    left = [k for k in unmatched_rows if k not in rebuilt]
    unmatched = [dataset.item_titles[i] or dataset.item_raw_ids[i] for i in left]
    report = {"source": {"run": opts.run, "workspace": src_path, "dataset": row["dataset"]},
              "items": {"mode": mode, "requested": opts.items, "matched": matched, "total": int(dataset.n_items),
                        "by_id": matched if mode == "id" else 0, "by_title": matched if mode == "title" else 0,
                        "rebuilt_from_text": len(rebuilt), "fresh": len(left), "unmatched_examples": unmatched[:10],
                        "unmatched_policy": opts.unmatched, "text": text_report},
              **report}
    return report


def summary_lines(report: dict) -> list[str]:
    """Human-readable lines of a warm-start report (also of reports stored before text rebuilds existed)."""
    src, items = report["source"], report["items"]
    lines = [f"init_from: run {src['run']} (dataset {src['dataset']!r}): {len(report['loaded'])} tensors loaded, "
             f"{len(report['mapped'])} item-indexed tensors mapped, {len(report['fresh'])} left fresh"]
    if items["mode"] == "none":
        lines.append("  items: not matched (items = \"none\"): item-indexed tensors left fresh")
    else:
        rebuilt = items.get("rebuilt_from_text", 0)
        fresh = items.get("fresh", items["total"] - items["matched"])
        text = items.get("text") or {}
        how = (f"; {rebuilt:,} rebuilt from text (weighted mean of the {text.get('neighbours')} nearest source "
               f"items by item text)") if rebuilt else ""
        lines.append(f"  items matched by {items['mode']} (asked: {items['requested']}): "
                     f"{items['matched']:,} of {items['total']:,}{how}; {fresh:,} keep fresh rows")
        if text.get("note"):
            lines.append(f"  text rebuild: {text['note']}")
    for m in report["mapped"]:
        extra = f" (+ {m['rebuilt']:,} rebuilt from text)" if m.get("rebuilt") else ""
        lines.append(f"  mapped {m['name']}: {m['rows']:,} of {m['of']:,} item rows{extra}")
    for f in report["fresh"]:
        lines.append(f"  fresh  {f['name']}: {f['reason']}")
    return lines
