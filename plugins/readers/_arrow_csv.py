"""A fast path for the generic CSV reader: pyarrow parses quote-free files block by block in C++.

It returns exactly the columns the reader's Python path builds (ids coded by first appearance in
the file, actions stripped, times and values as float64) or None, and then the caller reads the
file again with its Python path, which names every bad line. None whenever the file is anything
but plain: pyarrow not installed, a row whose field count differs, bytes that are not UTF-8, an id
or action with surrounding whitespace or a quote character (the Python path strips and unquotes),
an empty id, a time or value that pyarrow does not parse as a plain number (ISO dates, padding,
``1_000``) or that is out of range. Memory: one parsed block at a time plus the finished columns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

BLOCK_BYTES = 1 << 24


def read_columns(path: Path, delimiter: str, width: int, cols: dict[str, int], time_range: tuple[float, float]
                 ) -> dict[str, Any] | None:
    """role -> float64 array (time, value) or (int64 codes, first-seen values) for the other roles;
    None where the Python path must decide. ``cols``: role -> 0-based column; the first line is the
    header (already checked by the caller) and every row must have ``width`` fields."""
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
    except ImportError:
        return None
    names = [f"f{k}" for k in range(width)]
    try:
        reader = pacsv.open_csv(
            str(path),
            read_options=pacsv.ReadOptions(skip_rows=1, column_names=names, block_size=BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char=False, ignore_empty_lines=True),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 include_columns=[names[c] for c in cols.values()],
                                                 strings_can_be_null=False))
        indexes: dict[str, dict[str, int]] = {r: {} for r in cols if r not in ("time", "value")}
        parts: dict[str, list[np.ndarray]] = {r: [] for r in cols}
        for batch in reader:
            for role, c in cols.items():
                part = _column(batch.column(names[c]), role, indexes.get(role), time_range)
                if part is None:
                    return None
                parts[role].append(part)
    except (pa.ArrowException, OSError, UnicodeDecodeError):
        return None
    out: dict[str, Any] = {}
    for role, chunks in parts.items():
        arr = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64 if role in indexes else np.float64)
        out[role] = (arr, list(indexes[role])) if role in indexes else arr
    return out


def _column(arr, role: str, index: dict[str, int] | None, time_range: tuple[float, float]) -> np.ndarray | None:
    import pyarrow as pa
    import pyarrow.compute as pc

    if index is None:                                   # time or value: plain float64 numbers only
        values = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
        ok = (values >= time_range[0]) & (values <= time_range[1]) if role == "time" else np.isfinite(values)
        return values if bool(ok.all()) else None
    uniques = pc.unique(arr)                            # first-appearance order, as the Python path codes
    seen = uniques.to_pylist()
    if any(v != v.strip() or '"' in v for v in seen) or (role != "action" and "" in seen):
        return None
    codes = np.fromiter((index.setdefault(v, len(index)) for v in seen), dtype=np.int64, count=len(seen))
    return codes[pc.index_in(arr, value_set=uniques).to_numpy(zero_copy_only=False)]
