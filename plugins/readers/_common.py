"""Helpers shared by the built-in readers: hashing source files, decoding text, parsing fields.

Everything raises :class:`workbench.kinds.ReaderError` naming the file, the 1-based
line and the field, so a user can find the bad row.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path
from typing import Iterator

from workbench.kinds import ReaderError, SourceFile


def source_file(path: Path) -> SourceFile:
    """(path, sha256, size) of one input file, recorded with the dataset."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return SourceFile(path=str(Path(path).resolve()), sha256=h.hexdigest(), size=Path(path).stat().st_size)


def read_bytes(path: Path) -> bytes:
    """The file's bytes, transparently gunzipped for ``.gz`` files."""
    try:
        if str(path).endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read()
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise ReaderError(path, None, None, "file not found") from None
    except (OSError, EOFError) as e:
        raise ReaderError(path, None, None, f"cannot read: {e}") from None


def decode(data: bytes, path: Path, encodings: tuple[str, ...] = ("utf-8",)) -> str:
    """Decode with the first encoding that works; on failure name the line of the first bad byte."""
    last: UnicodeDecodeError | None = None
    for enc in encodings:
        try:
            text = data.decode(enc)
            return text[1:] if text.startswith("\ufeff") else text
        except UnicodeDecodeError as e:
            last = e
    assert last is not None
    line = data.count(b"\n", 0, last.start) + 1
    raise ReaderError(path, line, None,
                      f"unknown text encoding (tried {', '.join(encodings)}): byte 0x{data[last.start]:02x} "
                      f"at offset {last.start} is not valid")


def read_text(path: Path, encodings: tuple[str, ...] = ("utf-8",)) -> str:
    return decode(read_bytes(path), path, encodings)


def lines(text: str) -> list[str]:
    """Lines without their endings (LF or CRLF); a trailing newline adds no empty line."""
    out = text.split("\n")
    if out and out[-1] == "":
        out.pop()
    if text.find("\r") != -1:
        out = [s[:-1] if s.endswith("\r") else s for s in out]
    return out


def split_rows(rows: list[str], sep: str, path: Path, fields: tuple[str, ...], first_line: int = 1,
               min_fields: int | None = None) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number, fields) for each non-blank row; a wrong field count is a ReaderError."""
    need = len(fields) if min_fields is None else min_fields
    for k, row in enumerate(rows):
        if not row.strip():
            continue
        parts = row.split(sep)
        if len(parts) < need or (min_fields is None and len(parts) != len(fields)):
            raise ReaderError(path, first_line + k, None,
                              f"expected {len(fields)} fields ({', '.join(fields)}) separated by {sep!r}, "
                              f"got {len(parts)}")
        yield first_line + k, parts


def as_float(value: str, path: Path, line: int, field: str) -> float:
    try:
        out = float(value)
    except ValueError:
        raise ReaderError(path, line, field, f"expected a number, got {value!r}") from None
    if out != out or out in (float("inf"), float("-inf")):
        raise ReaderError(path, line, field, f"expected a finite number, got {value!r}")
    return out


def as_id(value: str, path: Path, line: int, field: str, numeric: bool = False) -> str:
    """A raw id: stripped, non-empty; with ``numeric`` it must be a non-negative integer."""
    v = value.strip()
    if not v:
        raise ReaderError(path, line, field, "empty id")
    if numeric and not v.isdigit():
        raise ReaderError(path, line, field, f"expected a non-negative integer id, got {value!r}")
    return v


def check_floats(values: list[str], path: Path, field: str, line_numbers: list[int] | None = None) -> list[float]:
    """Convert to floats, naming the first line that is not a number."""
    try:
        out = [float(v) for v in values]
    except ValueError:
        for k, v in enumerate(values):
            as_float(v, path, line_numbers[k] if line_numbers else k + 1, field)
        raise
    for k, x in enumerate(out):
        if x != x or x in (float("inf"), float("-inf")):
            raise ReaderError(path, line_numbers[k] if line_numbers else k + 1, field,
                              f"expected a finite number, got {values[k]!r}")
    return out


def sniff(path: Path, size: int = 4096) -> str:
    """The first ``size`` bytes as text (errors replaced), for ``detect``."""
    try:
        if str(path).endswith(".gz"):
            with gzip.open(path, "rb") as f:
                data = f.read(size)
        else:
            with open(path, "rb") as f:
                data = f.read(size)
    except (OSError, EOFError):
        return ""
    return data.decode("utf-8", errors="replace")


def item_text(title: str = "", categories: list[str] | None = None, tags: list[str] | None = None,
              extra: str = "") -> str:
    """The best text for a text encoder: ``title. Genres: a, b. Tags: x, y.``"""
    parts = [title.strip()] if title and title.strip() else []
    if categories:
        parts.append("Genres: " + ", ".join(categories))
    if tags:
        parts.append("Tags: " + ", ".join(tags))
    if extra:
        parts.append(extra)
    return ". ".join(parts)


def table(rows: list[str], sep: str, path: Path, fields: tuple[str, ...], first_line: int = 1,
          ids: tuple[str, ...] = (), numeric_ids: tuple[str, ...] = (), floats: tuple[str, ...] = ()
          ) -> dict[str, list]:
    """Columns of a delimited table, validated: ``ids`` non-empty, ``numeric_ids`` integers, ``floats`` finite.

    A column-wise fast path handles clean files; on any anomaly the row-by-row path
    re-validates and raises a ReaderError naming the exact line and field (or accepts
    harmless variations such as spaces around ids).
    """
    try:
        return _table_fast(rows, sep, fields, ids, numeric_ids, floats)
    except (ValueError, OverflowError):
        return _table_slow(rows, sep, path, fields, first_line, ids, numeric_ids, floats)


def _table_fast(rows, sep, fields, ids, numeric_ids, floats) -> dict[str, list]:
    import math

    if not all(rows):
        rows = [r for r in rows if r.strip()]
    parts = [r.split(sep) for r in rows]
    n = len(fields)
    if any(len(p) != n for p in parts):
        raise ValueError("field count")
    cols = {f: list(col) for f, col in zip(fields, zip(*parts))} if parts else {f: [] for f in fields}
    for f in numeric_ids:
        if not all(v.isdigit() for v in cols[f]):
            raise ValueError(f)
    for f in ids:
        if not all(v and v == v.strip() for v in cols[f]):
            raise ValueError(f)
    for f in floats:
        vals = list(map(float, cols[f]))
        if not all(map(math.isfinite, vals)):
            raise ValueError(f)
        cols[f] = vals
    return cols


def _table_slow(rows, sep, path, fields, first_line, ids, numeric_ids, floats) -> dict[str, list]:
    cols: dict[str, list] = {f: [] for f in fields}
    for line, parts in split_rows(rows, sep, path, fields, first_line):
        for f, v in zip(fields, parts):
            if f in numeric_ids:
                v = as_id(v, path, line, f, numeric=True)
            elif f in ids:
                v = as_id(v, path, line, f)
            elif f in floats:
                v = as_float(v, path, line, f)
            cols[f].append(v)
    return cols


def add_tag(out: dict[str, list[str]], item: str, tag: str) -> None:
    """Append ``tag`` to the item's list once (case-insensitive), keeping first-seen order."""
    tag = tag.strip()
    if not tag:
        return
    lst = out.setdefault(item, [])
    if tag.lower() not in (t.lower() for t in lst):
        lst.append(tag)


def csv_rows(reader, path: Path):
    """(line, row) for every row of a ``csv.reader`` over ``path``, blank rows included;
    a malformed row raises :class:`ReaderError` naming its line."""
    import csv

    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise ReaderError(path, reader.line_num, None, f"bad CSV: {e}") from None
        yield reader.line_num, row
