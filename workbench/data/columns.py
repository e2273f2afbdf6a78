"""The columnar cache of a dataset's interactions: ``.npy`` files beside the workspace.

``<workspace>.files/columns/<fingerprint>/`` holds exactly the arrays
:func:`workbench.data.dataset.load_dataset` returns (``offsets``, ``items``,
``timestamps``, ``actions``) plus ``meta.json`` (fingerprint, sizes, action names).
Loading memory-maps them: no Python object per event, and pages are shared between
processes that train on the same data.

The SQLite workspace stays the source of truth. The cache is written at import, after
the import's transaction committed (a failed import writes nothing), atomically (a
temporary folder renamed into place), and named by the dataset fingerprint: a cache is
used only when its ``meta.json`` names the fingerprint, sizes and time flag of the dataset
row, and is rebuilt from the database when missing or not matching.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np

VERSION = 2
ARRAYS = ("offsets", "items", "timestamps", "actions")
OPTIONAL_ARRAYS = ("values",)      # event values (ratings), only for datasets that have them


def cache_dir(ws, fingerprint: str) -> Path:
    return ws.files_dir / "columns" / fingerprint


def arrays_from_processed(p) -> tuple[dict[str, np.ndarray], list[str]]:
    """The load-time arrays of preprocessed interactions (sorted by user, pos)."""
    n_users = p.n_users
    counts = np.bincount(p.user, minlength=n_users + 2)[: n_users + 2]
    offsets = np.zeros(n_users + 2, dtype=np.int64)
    offsets[1:] = np.cumsum(counts)[:-1]
    offsets[-1] = len(p.user)
    timestamps = p.ts if p.ts is not None else p.pos.astype(np.float64)
    if p.action is not None:
        names = sorted(set(p.action))
        index = {a: k + 1 for k, a in enumerate(names)}
        actions = np.fromiter((index[a] for a in p.action), dtype=np.int64, count=len(p.action))
    else:
        names, actions = [], np.zeros(len(p.user), dtype=np.int64)
    arrays = {"offsets": offsets, "items": np.asarray(p.item, dtype=np.int64),
              "timestamps": np.asarray(timestamps, dtype=np.float64), "actions": actions}
    if p.value is not None:
        arrays["values"] = np.asarray(p.value, dtype=np.float64)
    return arrays, names


def write_cache(ws, meta: dict[str, Any], arrays: dict[str, np.ndarray], action_names: list[str]) -> Path | None:
    """Write the cache for dataset row ``meta`` atomically; None when the files folder is not writable."""
    final = cache_dir(ws, meta["fingerprint"])
    if _valid(final, meta):
        return final
    tmp = final.parent / f".tmp-{uuid.uuid4().hex}"
    try:
        tmp.mkdir(parents=True)
        for name in ARRAYS + tuple(a for a in OPTIONAL_ARRAYS if a in arrays):
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(arrays[name]))
        info = {"version": VERSION, "fingerprint": meta["fingerprint"], "n_users": meta["n_users"],
                "n_items": meta["n_items"], "n_interactions": meta["n_interactions"],
                "has_timestamps": bool(meta["has_timestamps"]), "action_names": action_names}
        (tmp / "meta.json").write_text(json.dumps(info))
        if final.exists():
            shutil.rmtree(final)            # a stale or partial cache of the same name
        os.replace(tmp, final)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        return None
    return final


def write_column_cache(ws, dataset_id: int, fingerprint: str, p) -> Path | None:
    """At import: the cache of the dataset just committed (and stale caches of replaced data pruned)."""
    meta = {"fingerprint": fingerprint, "n_users": p.n_users, "n_items": p.n_items, "n_interactions": len(p),
            "has_timestamps": p.ts is not None}
    arrays, names = arrays_from_processed(p)
    out = write_cache(ws, meta, arrays, names)
    prune(ws)
    return out


def read_cache(ws, meta: dict[str, Any]) -> tuple[dict[str, np.ndarray], list[str]] | None:
    """Memory-mapped arrays and action names for dataset row ``meta``, or None (missing / not matching)."""
    folder = cache_dir(ws, meta["fingerprint"])
    info = _valid(folder, meta)
    if not info:
        return None
    try:
        arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in ARRAYS}
        arrays.update({name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in OPTIONAL_ARRAYS
                       if (folder / f"{name}.npy").is_file()})
    except (OSError, ValueError):
        return None
    n = meta["n_interactions"]
    if len(arrays["offsets"]) != meta["n_users"] + 2 or any(len(arrays[a]) != n for a in list(arrays)[1:]):
        return None
    return arrays, list(info["action_names"])


def _valid(folder: Path, meta: dict[str, Any]) -> dict | None:
    try:
        info = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    want = {"version": VERSION, "fingerprint": meta["fingerprint"], "n_users": meta["n_users"],
            "n_items": meta["n_items"], "n_interactions": meta["n_interactions"],
            "has_timestamps": bool(meta["has_timestamps"])}
    if any(info.get(k) != v for k, v in want.items()):
        return None
    if not all((folder / f"{name}.npy").is_file() for name in ARRAYS):
        return None
    return info


def prune(ws) -> None:
    """Remove caches whose fingerprint no dataset of the workspace has (replaced or removed data)."""
    root = ws.files_dir / "columns"
    if not root.is_dir():
        return
    from workbench.store import datasets
    keep = datasets.fingerprints(ws)
    for entry in root.iterdir():
        if entry.name not in keep and not entry.name.startswith(".tmp-"):
            shutil.rmtree(entry, ignore_errors=True)
