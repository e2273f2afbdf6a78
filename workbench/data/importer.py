"""Atomic dataset import: parse and preprocess everything first, then write in ONE transaction.

If anything is wrong (a bad row, an unknown option, a name already taken) the
workspace file is left exactly as it was: the write transaction is only opened
once the whole input has been parsed and preprocessed, and any error inside it
rolls back.

Tables written (read by :func:`workbench.data.dataset.load_dataset`):
``datasets``, ``interactions(dataset_id, user, item, pos, ts, action, value)``,
``items(dataset_id, item, raw_id, title, text, categories, extra)``,
``users(dataset_id, user, raw_id, attributes)``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workbench.data.columns import write_column_cache
from workbench.data.preprocess import (
    ID_ORDER, TIE_RULE, PreprocessOptions, Processed, fingerprint, options_dict, preprocess,
)
from workbench.kinds import RawDataset
from workbench.options import parse_options

class DatasetExists(ValueError):
    pass


@dataclass
class ImportSummary:
    id: int
    name: str
    format: str
    n_users: int
    n_items: int
    n_interactions: int
    has_timestamps: bool
    fingerprint: str
    removed: dict[str, int]
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def preprocess_options(values: PreprocessOptions | dict[str, Any] | None) -> PreprocessOptions:
    if isinstance(values, PreprocessOptions):
        return values
    clean = {k: v for k, v in (values or {}).items() if v is not None or k == "min_rating"}
    return parse_options(PreprocessOptions, clean, "preprocess")


def dataset_exists(ws, name: str) -> bool:
    from workbench.store import datasets
    return datasets.exists(ws, name)


def read_path(path: str | Path, fmt: str = "auto", reader_options: dict[str, Any] | None = None
              ) -> tuple[str, RawDataset, dict[str, Any]]:
    """Parse ``path`` with reader ``fmt`` (or the detected one). Returns (format, raw, reader options)."""
    from workbench.data.formats import detect_format, make_reader

    path = Path(path)
    if fmt == "auto":
        fmt = detect_format(path)
    reader, opts = make_reader(fmt, reader_options)
    raw = reader.read(path)
    return fmt, raw, asdict(opts) if opts is not None else {}


def import_path(ws, path: str | Path, *, name: str | None = None, fmt: str = "auto",
                reader_options: dict[str, Any] | None = None,
                preprocess_opts: PreprocessOptions | dict[str, Any] | None = None,
                replace: bool = False, force: bool = False) -> ImportSummary:
    """Read, preprocess and store ``path`` as dataset ``name`` (default: the file/folder name).

    Replacing a dataset that runs were trained on with different data needs ``force``
    (see :func:`workbench.store.datasets.guard_change`)."""
    started = time.perf_counter()
    path = Path(path)
    name = name or default_name(path)
    opts = preprocess_options(preprocess_opts)
    if not replace and dataset_exists(ws, name):
        raise DatasetExists(f"a dataset named {name!r} already exists in {ws.path} (use --replace)")
    fmt, raw, ropts = read_path(path, fmt, reader_options)
    return import_raw(ws, raw, name=name, fmt=fmt, preprocess_opts=opts, replace=replace,
                      extra_options={"reader_options": ropts}, started=started, force=force)


def default_name(path: Path) -> str:
    stem = path.name
    for suffix in (".gz", ".txt", ".csv", ".tsv", ".inter", ".dat"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    return stem or "dataset"


def prepare(raw: RawDataset, opts: PreprocessOptions | dict[str, Any] | None = None) -> Processed:
    """Preprocess ``raw`` (no workspace needed); ValueError when nothing is left to import."""
    p = preprocess(raw, preprocess_options(opts))
    if len(p) == 0:
        raise ValueError(f"nothing to import: no interactions left after preprocessing "
                         f"(removed: {p.removed or 'none; the input has no rows'})")
    return p


def import_raw(ws, raw: RawDataset, *, name: str, fmt: str,
               preprocess_opts: PreprocessOptions | dict[str, Any] | None = None, replace: bool = False,
               extra_options: dict[str, Any] | None = None, started: float | None = None,
               processed: Processed | None = None, force: bool = False) -> ImportSummary:
    """Preprocess ``raw`` (unless ``processed`` is given, from :func:`prepare` with the same
    options) and write it in one transaction (all or nothing)."""
    started = time.perf_counter() if started is None else started
    opts = preprocess_options(preprocess_opts)
    p = processed if processed is not None else prepare(raw, opts)
    fp = fingerprint(p)
    options = {**options_dict(opts), "id_order": ID_ORDER, "tie_rule": TIE_RULE, "removed": p.removed,
               **(extra_options or {})}
    did = _write(ws, raw, p, name=name, fmt=fmt, options=options, fp=fp, replace=replace, force=force)
    write_column_cache(ws, did, fp, p)
    return ImportSummary(id=did, name=name, format=fmt, n_users=p.n_users, n_items=p.n_items,
                         n_interactions=len(p), has_timestamps=p.ts is not None, fingerprint=fp,
                         removed=p.removed, seconds=round(time.perf_counter() - started, 3))


def _item_rows(did: int, raw: RawDataset, p: Processed):
    info = raw.item_info
    for k in range(1, p.n_items + 1):
        rid = p.item_raw[k]
        d = info.get(rid)
        if not d:          # no side information (most items of a plain log): no JSON encoding per row
            yield (did, k, rid, "", "", "[]", "{}")
            continue
        cats = list(d.get("categories") or [])
        yield (did, k, rid, d.get("title") or "", d.get("text") or d.get("title") or "",
               json.dumps(cats, ensure_ascii=False), json.dumps(d.get("extra") or {}, ensure_ascii=False))


def _user_rows(did: int, raw: RawDataset, p: Processed):
    info = raw.user_info
    for k in range(1, p.n_users + 1):
        rid = p.user_raw[k]
        d = info.get(rid)
        yield (did, k, rid, json.dumps(d, ensure_ascii=False) if d else "{}")


INSERT_CHUNK = 100_000


def _interaction_columns(did: int, p: Processed) -> tuple[list[str], Any]:
    """Column names and row tuples, made chunk by chunk (never one Python object per field of
    the whole table at once); all-NULL columns are left out (fewer bindings, same rows)."""
    cols = ["dataset_id", "user", "item", "pos"]
    arrays: list[Any] = [p.user, p.item, p.pos]
    for name, arr in (("ts", p.ts), ("action", p.action), ("value", p.value)):
        if arr is not None:
            cols.append(name)
            arrays.append(arr)

    def rows():
        for s in range(0, len(p), INSERT_CHUNK):
            e = min(len(p), s + INSERT_CHUNK)
            parts = [a[s:e] if isinstance(a, list) else a[s:e].tolist() for a in arrays]
            yield from zip([did] * (e - s), *parts)

    return cols, rows()


def _write(ws, raw: RawDataset, p: Processed, *, name: str, fmt: str, options: dict, fp: str,
           replace: bool, force: bool = False) -> int:
    from workbench.store import dataset_content, datasets
    from workbench.store.rows import write

    # A fresh dataset's rows only reference the datasets row inserted just before them, so
    # per-row foreign-key checks are skipped for speed; a replace keeps them on so that
    # deleting the old dataset cascades as declared.
    fast = replace is False or not dataset_exists(ws, name)
    with write(ws, check_foreign_keys=not fast) as conn:
        old = datasets.id_of(conn, name)
        same_data_runs: list[int] = []
        if old is not None:
            if not replace:
                raise DatasetExists(f"a dataset named {name!r} already exists in {ws.path} (use --replace)")
            same_data_runs = datasets.guard_change(conn, name, old, fp, force=force)
            datasets.delete(conn, old)
        did = datasets.insert(conn, name=name, fmt=fmt, source_files=json.dumps([asdict(s) for s in raw.source_files]),
                              options=json.dumps(options), n_users=p.n_users, n_items=p.n_items, n_interactions=len(p),
                              has_timestamps=p.ts is not None, fingerprint=fp, created_at=time.time())
        dataset_content.insert_interactions(conn, *_interaction_columns(did, p))
        dataset_content.insert_items(conn, _item_rows(did, raw, p))
        dataset_content.insert_users(conn, _user_rows(did, raw, p))
        datasets.repoint(conn, same_data_runs, did)
    return did


def remove_dataset(ws, name: str, force: bool = False) -> bool:
    """Delete dataset ``name`` in one transaction; False when there is none.

    Refused (:class:`workbench.store.datasets.DatasetInUse`) when runs were trained on it,
    unless ``force``: those runs are then kept, detached from any data."""
    from workbench.store import datasets
    from workbench.store.rows import write

    with write(ws) as conn:
        did = datasets.id_of(conn, name)
        if did is not None:
            datasets.guard_change(conn, name, did, None, force=force)
            datasets.delete(conn, did)
    return did is not None
