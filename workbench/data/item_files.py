"""Item files (audio, images, ...) -> the precomputed view's vectors: finding the files, writing the result.

An item's file is named by its raw item id (``items/1234.wav`` is item "1234"), or listed in a
manifest (CSV or TSV with a header naming an ``item_id`` column and a ``path`` column; relative
paths are relative to the manifest). The result is ``PREFIX.npy`` (one row per file, float32) and
``PREFIX.ids`` (the raw item id of each row, one per line): exactly what the ``precomputed``
view reads (``path = "PREFIX.npy"``, ``ids_path = "PREFIX.ids"``).
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

import numpy as np

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aiff", ".aif")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


class ItemFilesError(ValueError):
    """Bad item files or manifest: the message names the file (and line)."""


def find_item_files(source: str | os.PathLike, suffixes: tuple[str, ...]) -> list[tuple[str, Path]]:
    """[(raw item id, file)] sorted by id: every file with one of ``suffixes`` in folder ``source``
    (not recursive; id = file name without its suffix), or the rows of a manifest file."""
    source = Path(source).expanduser()
    if not source.exists():
        raise ItemFilesError(f"{source}: no such file or folder")
    if source.is_dir():
        pairs = [(p.stem, p) for p in sorted(source.iterdir()) if p.is_file() and p.suffix.lower() in suffixes]
        if not pairs:
            raise ItemFilesError(f"{source}: no {'/'.join(suffixes)} files in this folder")
    else:
        pairs = _manifest(source)
    seen: dict[str, Path] = {}
    for item, path in pairs:
        if item in seen:
            raise ItemFilesError(f"{source}: item {item!r} has two files: {seen[item]} and {path}")
        seen[item] = path
    return sorted(seen.items())


def _manifest(path: Path) -> list[tuple[str, Path]]:
    text = path.read_text(encoding="utf-8-sig")
    delimiter = "\t" if "\t" in text.splitlines()[0] else ","
    rows = list(csv.reader(text.splitlines(), delimiter=delimiter))
    if not rows:
        raise ItemFilesError(f"{path}: empty manifest")
    header = [h.strip().lower() for h in rows[0]]
    if "item_id" not in header or "path" not in header:
        raise ItemFilesError(f"{path}, line 1: the manifest header needs the columns item_id and path, got {rows[0]}")
    i_col, p_col = header.index("item_id"), header.index("path")
    out = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) <= max(i_col, p_col) or not row[i_col].strip() or not row[p_col].strip():
            raise ItemFilesError(f"{path}, line {number}: expected item_id and path, got {row}")
        file = Path(row[p_col].strip()).expanduser()
        file = file if file.is_absolute() else path.parent / file
        if not file.is_file():
            raise ItemFilesError(f"{path}, line {number}, field path: {file} does not exist")
        out.append((row[i_col].strip(), file))
    if not out:
        raise ItemFilesError(f"{path}: the manifest lists no files")
    return out


def write_vectors(prefix: str | os.PathLike, ids: list[str], matrix: np.ndarray) -> tuple[Path, Path]:
    """Write ``PREFIX.npy`` and ``PREFIX.ids`` (each replaced atomically). Returns both paths."""
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[0] != len(ids):
        raise ValueError(f"{len(ids)} ids for a matrix of shape {matrix.shape}")
    if not np.isfinite(matrix).all():
        bad = int(np.argmax(~np.isfinite(matrix).all(axis=1)))
        raise ValueError(f"the vector of item {ids[bad]!r} has NaN or infinite values")
    prefix = Path(prefix).expanduser()
    prefix.parent.mkdir(parents=True, exist_ok=True)
    npy, ids_path = prefix.with_name(prefix.name + ".npy"), prefix.with_name(prefix.name + ".ids")
    for target, write in ((npy, lambda fh: np.save(fh, matrix, allow_pickle=False)),
                          (ids_path, lambda fh: fh.write("".join(f"{i}\n" for i in ids).encode("utf-8")))):
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "wb") as fh:
                write(fh)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return npy, ids_path


def coverage(ids: list[str], dataset_raw_ids: list[str]) -> dict:
    """How the files' ids line up with a dataset's raw item ids (index 0 of ``dataset_raw_ids`` is padding)."""
    known = set(dataset_raw_ids[1:])
    files = set(ids)
    return {"items": len(known), "with_vector": len(known & files), "without_vector": len(known - files),
            "files_not_in_dataset": sorted(files - known)[:20], "n_files_not_in_dataset": len(files - known)}
