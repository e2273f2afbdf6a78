"""Generic CSV/TSV with a column mapping: ``map = "user=col,item=col,time=col,action=col,value=col"``.

Columns are header names (``header = true``) or 0-based indexes. ``user`` and
``item`` are required. Without ``map``, a header with common names (user_id / userId /
visitorid, item_id / movieId / product_id, timestamp / time / ts / date, action / behavior /
event / event_type, rating) maps itself; an ambiguous header asks for ``map``.
The file is streamed (``.gz`` too): memory holds the finished columns, not the rows. Every
bad line is reported (the first 50, in ``ReaderError.errors``); timestamps must be finite
unix seconds, milliseconds or microseconds from 1901 on. ``time`` may be numbers (unix seconds) or ISO 8601
dates/datetimes. Without ``time`` the file order within a user is the order.
"""

from __future__ import annotations

import csv
import gzip
from itertools import chain, islice
from operator import methodcaller
from typing import Any
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from workbench.kinds import MAX_ERRORS, CodedColumn, DatasetReader, PluginSpec, RawDataset, ReaderError, shown
from workbench.options import ConfigError, option

from workbench_plugins.readers import _arrow_csv
from workbench_plugins.readers import _common as c

ROLES = ("user", "item", "time", "action", "value")
DELIMITERS = {"auto": None, ",": ",", "comma": ",", "\\t": "\t", "tab": "\t", "\t": "\t", ";": ";", "|": "|",
              "space": " ", " ": " "}


@dataclass
class CSVOptions:
    map: str = option("", help="Column mapping: user=col,item=col[,time=col][,action=col][,value=col] "
                               "(empty: recognise common header names)")
    delimiter: str = option("auto", help="Field delimiter", choices=list(DELIMITERS))
    header: bool = option(True, help="The first row names the columns")


def parse_map(spec: str) -> dict[str, str]:
    """``"user=u,item=i"`` -> {"user": "u", "item": "i"}; ConfigError on unknown roles or missing user/item."""
    out = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        role, sep, col = part.partition("=")
        role = role.strip()
        if not sep or not col.strip():
            raise ConfigError(f"map: {part!r} must look like role=column")
        if role not in ROLES:
            raise ConfigError(f"map: unknown role {role!r} (roles: {', '.join(ROLES)})")
        out[role] = col.strip()
    missing = [r for r in ("user", "item") if r not in out]
    if missing:
        raise ConfigError(f"map: missing {' and '.join(missing)} (e.g. --map user=user_id,item=item_id,time=ts)")
    return out


def parse_time(value: str, path: Path, line: int, field: str) -> float:
    v = value.strip()
    try:
        return float(v)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise ReaderError(path, line, field, f"expected unix seconds or an ISO 8601 date, got {value!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


# Header names recognised without --map (compared case-insensitively, ignoring spaces, '-' and '_').
COMMON_NAMES = {
    "user": ("user", "userid", "visitorid", "visitor", "customerid", "uid"),
    "item": ("item", "itemid", "movieid", "productid", "product", "iid"),
    "time": ("timestamp", "time", "ts", "date", "datetime", "eventtime"),
    "action": ("action", "behavior", "behaviour", "event", "eventtype", "actiontype"),
    "value": ("rating", "value"),
}
BATCH_ROWS = 100_000
BLOCK_CHARS = 1 << 23      # characters of lines parsed at once
# Unix time, in seconds, milliseconds or microseconds, from 1901 on: beyond 2^53 a float64
# cannot even hold whole numbers, and a date before 1901 in a behaviour log is a unit mistake.
TIME_MIN, TIME_MAX = -float(2 ** 31), float(2 ** 53)


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch not in " _-")


def auto_map(header: list[str], path: Path) -> dict[str, str]:
    """Roles from common header names (user_id, movieId, timestamp, behavior, ...).

    ConfigError (asking for --map) when user or item cannot be found or when two columns
    could play the same role."""
    found: dict[str, list[str]] = {}
    for name in header:
        for role, names in COMMON_NAMES.items():
            if _norm(name) in names:
                found.setdefault(role, []).append(name)
    ambiguous = {r: cols for r, cols in found.items() if len(cols) > 1}
    if ambiguous:
        which = "; ".join(f"{r}: {' or '.join(cols)}" for r, cols in ambiguous.items())
        raise ConfigError(f"{path}: ambiguous header ({which}); pass --map "
                          f"user=COL,item=COL[,time=COL][,action=COL][,value=COL]")
    missing = [r for r in ("user", "item") if r not in found]
    if missing:
        raise ConfigError(f"{path}: cannot tell which column is the {' and the '.join(missing)} "
                          f"(columns: {', '.join(header)}); pass --map user=COL,item=COL[,time=COL]...")
    return {r: cols[0] for r, cols in found.items()}


def _open_text(path: Path):
    if str(path).endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


class _Columns:
    """Validated columns built batch by batch: ids as codes into first-seen uniques, numbers as
    float64 arrays; bad lines are collected (the first MAX_ERRORS), never stored."""

    def __init__(self, path: Path, cols: dict[str, int], names: dict[str, str]):
        self.path, self.cols, self.names = path, cols, names
        self.index: dict[str, dict[str, int]] = {r: {} for r in ("user", "item", "action") if r in cols}
        self.parts: dict[str, list[np.ndarray]] = {r: [] for r in cols}
        self.errors: list[ReaderError] = []
        self.pending: list[ReaderError] = []
        self.total_errors = 0

    def bad(self, line: int, field: str | None, message: str) -> None:
        self.total_errors += 1
        if len(self.errors) + len(self.pending) < 2 * MAX_ERRORS:
            self.pending.append(ReaderError(self.path, line, field, message))

    def _flush(self) -> None:
        """The batch's errors in line order, up to MAX_ERRORS in all."""
        self.pending.sort(key=lambda e: e.line or 0)
        self.errors.extend(self.pending[:MAX_ERRORS - len(self.errors)])
        self.pending = []

    def add(self, rows: list[list[str]], lines, width: int) -> None:
        """Validate and append one batch of rows; ``lines[k]`` is the line number of ``rows[k]``."""
        drop: set[int] = set()
        if set(map(len, rows)) != {width}:
            for k in [k for k, r in enumerate(rows) if len(r) != width]:
                drop.add(k)
                if any(x.strip() for x in rows[k]):     # a blank line is skipped, not an error
                    self.bad(lines[k], None, f"expected {width} fields, got {len(rows[k])}")
            rows = [r if len(r) == width else [""] * width for r in rows]
        fields = list(zip(*rows)) if rows else [()] * width
        self.add_fields({r: fields[c] for r, c in self.cols.items()}, lines, drop)

    def add_fields(self, raw: dict[str, Any], lines, drop: set[int] | None = None) -> None:
        """Validate and append one batch given as columns (role -> field strings)."""
        drop = set() if drop is None else drop
        n = len(raw["user"])
        for role in ("user", "item"):
            col = raw[role] = list(map(str.strip, raw[role]))
            if not all(col):
                for k in (k for k, v in enumerate(col) if not v and k not in drop):
                    drop.add(k)
                    self.bad(lines[k], self.names[role], "empty id")
        numbers = {}
        for role in ("time", "value"):
            if role in raw:
                numbers[role] = self._numbers(role, raw[role], lines, drop)
        if drop:
            keep = [k for k in range(n) if k not in drop]
            raw = {r: [v[k] for k in keep] for r, v in raw.items()}
            numbers = {r: v[keep] for r, v in numbers.items()}
        self._flush()
        if self.errors:      # keep scanning for more bad lines, but stop building columns
            return
        for role, col in raw.items():
            if role in numbers:
                self.parts[role].append(numbers[role])
                continue
            if role == "action":
                col = list(map(str.strip, col))
            index = self.index[role]
            for v in dict.fromkeys(col):            # distinct values, first-seen order (C speed)
                if v not in index:
                    index[v] = len(index)
            self.parts[role].append(np.fromiter(map(index.__getitem__, col), dtype=np.int64, count=len(col)))

    def _numbers(self, role: str, values: list[str], lines: list[int], drop: set[int]) -> np.ndarray:
        field = self.names[role]
        try:
            out = np.fromiter(map(float, values), dtype=np.float64, count=len(values))
        except ValueError:
            out = np.empty(len(values))
            for k, v in enumerate(values):
                if k in drop:
                    out[k] = 0.0
                    continue
                try:
                    out[k] = parse_time(v, self.path, lines[k], field) if role == "time" else float(v)
                except (ReaderError, ValueError):
                    drop.add(k)
                    self.bad(lines[k], field, f"expected unix seconds or an ISO 8601 date, got {shown(v)}"
                             if role == "time" else f"expected a number, got {shown(v)}")
        ok = (out >= TIME_MIN) & (out <= TIME_MAX) if role == "time" else np.isfinite(out)
        if not ok.all():
            for k in np.flatnonzero(~ok).tolist():
                if k in drop:
                    continue
                drop.add(k)
                if role == "time" and np.isfinite(out[k]):
                    self.bad(lines[k], field, f"timestamp {shown(values[k])} is out of range (unix seconds, "
                                              f"milliseconds or microseconds from 1901 on: {TIME_MIN:.0f} .. "
                                              f"{TIME_MAX:.0f})")
                else:
                    self.bad(lines[k], field, f"expected a finite number, got {shown(values[k])}")
        return out

    def column(self, role: str):
        if role not in self.cols:
            return None
        arr = np.concatenate(self.parts[role]) if self.parts[role] else np.zeros(0)
        if role in self.index:
            return CodedColumn(arr.astype(np.int64), list(self.index[role]))
        return arr


def _line_numbers(batch: list[list[str]], start: int, end: int):
    """Line number of each row of a batch read after line ``start`` up to line ``end``: consecutive
    unless a quoted field spans lines (then each row's own newlines are counted)."""
    if end - start == len(batch):
        return range(start + 1, end + 1)
    spans = [1 + sum(x.count("\n") for x in row) for row in batch]
    return (start + 1 + np.concatenate([[0], np.cumsum(spans)[:-1]])).tolist()


def _raw_dataset(path: Path, columns: dict[str, Any]) -> RawDataset:
    return RawDataset(users=columns["user"], items=columns["item"], timestamps=columns.get("time"),
                      actions=columns.get("action"), values=columns.get("value"),
                      source_files=[c.source_file(path)])


class CSVReader(DatasetReader):
    name = "csv"
    fast = True        # plain files through pyarrow when it is installed (see _arrow_csv); False: Python only

    def detect(self, path: Path) -> float:
        path = Path(path)
        if path.is_file() and path.suffix.lower() in (".csv", ".tsv", ".txt"):
            return 0.2  # needs a --map or common header names; a specific reader wins when one matches
        return 0.0

    def read(self, path: Path) -> RawDataset:
        """Stream ``path`` in batches of rows: memory holds the finished columns, not one Python
        object per field; every bad line is collected (ReaderError.errors) before raising."""
        path = Path(path)
        opts = self.options or CSVOptions()
        mapping = parse_map(opts.map) if opts.map.strip() else None
        delim = DELIMITERS[opts.delimiter]
        if delim is None:
            first = c.lines(c.sniff(path))[:1]
            counts = {d: first[0].count(d) for d in ("\t", ",", ";", "|")} if first else {}
            delim = max(counts, key=counts.get) if counts and max(counts.values()) > 0 else ","
        try:
            f = _open_text(path)
        except OSError as e:
            raise ReaderError(path, None, None, f"cannot read: {e}") from None
        with f:
            reader = csv.reader(f, delimiter=delim)
            rows = self._rows(reader, path)
            if opts.header:
                try:
                    _, header = next(rows)
                except StopIteration:
                    raise ReaderError(path, 1, None, "empty file (expected a header row)") from None
                header = [h.strip() for h in header]
                if mapping is None:
                    mapping = auto_map(header, path)
                cols = {}
                for role, name in mapping.items():
                    if name not in header:
                        raise ReaderError(path, 1, name, f"no column {name!r} for {role} "
                                                         f"(columns: {', '.join(header)})")
                    cols[role] = header.index(name)
                width = len(header)
            else:
                if mapping is None:
                    raise ConfigError("map: without a header row, pass --map with 0-based column indexes "
                                      "(e.g. --map user=0,item=1,time=2)")
                cols = {}
                for role, name in mapping.items():
                    if not name.isdigit():
                        raise ConfigError(f"map.{role}: without a header row, columns are 0-based indexes, "
                                          f"got {name!r}")
                    cols[role] = int(name)
                width = None
            if opts.header and self.fast and reader.line_num == 1:
                fast = _arrow_csv.read_columns(path, delim, width, cols, (TIME_MIN, TIME_MAX))
                if fast is not None:
                    return _raw_dataset(path, {r: CodedColumn(*v) if isinstance(v, tuple) else v
                                               for r, v in fast.items()})
            out = _Columns(path, cols, mapping)
            if width is None:        # no header: the first row sets the width
                first = next(rows, None)
                if first is not None:
                    width = len(first[1])
                    if max(cols.values()) >= width:
                        raise ReaderError(path, first[0], None, f"row has {width} fields; the mapping "
                                                                    f"needs column {max(cols.values())}")
                    out.add([first[1]], [first[0]], width)
            if width is not None:
                self._stream(f, reader.line_num, delim, width, out)
        if out.errors:
            raise ReaderError.collected(out.errors, out.total_errors)
        return _raw_dataset(path, {r: out.column(r) for r in ROLES})

    @staticmethod
    def _stream(f, line: int, delim: str, width: int, out: _Columns) -> None:
        """The data rows after line ``line``, in blocks of lines: split at C speed while a block has
        no quotes and one field count; from the first quote on, Python's csv module (quoted fields
        may hold delimiters and newlines)."""
        want = {width - 1}
        count = methodcaller("count", delim)
        try:
            while True:
                block = f.readlines(BLOCK_CHARS)
                if not block:
                    return
                text = "".join(block)
                if "\r" in text:
                    text = text.replace("\r\n", "\n")
                if '"' in text or "\r" in text:
                    CSVReader._csv_rows(chain(block, f), line, delim, width, out)
                    return
                body = text[:-1] if text.endswith("\n") else text
                lines = body.split("\n")
                numbers = range(line + 1, line + 1 + len(lines))
                if set(map(count, lines)) == want:
                    flat = body.replace("\n", delim).split(delim)
                    out.add_fields({r: flat[c::width] for r, c in out.cols.items()}, numbers)
                else:
                    out.add([ln.split(delim) for ln in lines], numbers, width)
                line += len(lines)
        except UnicodeDecodeError as e:
            raise ReaderError(out.path, line + 1, None, f"not valid UTF-8 text (byte 0x{e.object[e.start]:02x}) "
                                                        f"in this block of lines") from None

    @staticmethod
    def _csv_rows(lines, line: int, delim: str, width: int, out: _Columns) -> None:
        reader = csv.reader(lines, delimiter=delim)
        while True:
            start = reader.line_num
            try:
                batch = list(islice(reader, BATCH_ROWS))
            except csv.Error as e:
                raise ReaderError(out.path, line + reader.line_num, None, f"bad CSV: {e}") from None
            if not batch:
                return
            out.add(batch, _line_numbers(batch, line + start, line + reader.line_num), width)

    @staticmethod
    def _rows(reader, path: Path):
        """(line number, row) of each non-blank row; a byte that is not UTF-8 names its line."""
        try:
            yield from ((line, row) for line, row in c.csv_rows(reader, path) if row and any(x.strip() for x in row))
        except UnicodeDecodeError as e:
            raise ReaderError(path, reader.line_num + 1, None,
                              f"not valid UTF-8 text (byte 0x{e.object[e.start]:02x})") from None


SPECS = [PluginSpec(
    name="csv", kind="reader", factory="workbench_plugins.readers.csv_generic:CSVReader", options=CSVOptions,
    description="Generic CSV/TSV with a column mapping (--map user=col,item=col,time=col,action=col,value=col)")]
