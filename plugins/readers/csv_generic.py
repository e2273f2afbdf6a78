"""Generic CSV/TSV with a column mapping: ``map = "user=col,item=col,time=col,action=col,value=col"``.

Columns are header names (``header = true``) or 0-based indexes. ``user`` and
``item`` are required. ``time`` may be numbers (unix seconds) or ISO 8601
dates/datetimes. Without ``time`` the file order within a user is the order.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from workbench.kinds import DatasetReader, PluginSpec, RawDataset, ReaderError
from workbench.options import ConfigError, option

from workbench_plugins.readers import _common as c

ROLES = ("user", "item", "time", "action", "value")
DELIMITERS = {"auto": None, ",": ",", "comma": ",", "\\t": "\t", "tab": "\t", "\t": "\t", ";": ";", "|": "|",
              "space": " ", " ": " "}


@dataclass
class CSVOptions:
    map: str = option("", help="Column mapping: user=col,item=col[,time=col][,action=col][,value=col]")
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


class CSVReader(DatasetReader):
    name = "csv"

    def detect(self, path: Path) -> float:
        path = Path(path)
        if path.is_file() and path.suffix.lower() in (".csv", ".tsv", ".txt"):
            return 0.2  # needs a --map anyway; a specific reader wins when one matches
        return 0.0

    def read(self, path: Path) -> RawDataset:
        path = Path(path)
        opts = self.options or CSVOptions()
        mapping = parse_map(opts.map)
        text = c.read_text(path)
        delim = DELIMITERS[opts.delimiter]
        if delim is None:
            first = c.lines(text[:4096])[:1]
            counts = {d: first[0].count(d) for d in ("\t", ",", ";", "|")} if first else {}
            delim = max(counts, key=counts.get) if counts and max(counts.values()) > 0 else ","
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
        rows = self._rows(reader, path)
        if opts.header:
            try:
                line, header = next(rows)
            except StopIteration:
                raise ReaderError(path, 1, None, "empty file (expected a header row)") from None
            header = [h.strip() for h in header]
            cols = {}
            for role, name in mapping.items():
                if name not in header:
                    raise ReaderError(path, 1, name, f"no column {name!r} for {role} (columns: {', '.join(header)})")
                cols[role] = header.index(name)
            width = len(header)
        else:
            cols = {}
            for role, name in mapping.items():
                if not name.isdigit():
                    raise ConfigError(f"map.{role}: without a header row, columns are 0-based indexes, got {name!r}")
                cols[role] = int(name)
            width = None
        users, items, times, actions, values, numbers = [], [], [], [], [], []
        for line, row in rows:
            if width is None:
                width = len(row)
            if len(row) != width:
                raise ReaderError(path, line, None, f"expected {width} fields, got {len(row)}")
            if max(cols.values()) >= len(row):
                raise ReaderError(path, line, None, f"row has {len(row)} fields; the mapping needs column "
                                                    f"{max(cols.values())}")
            users.append(c.as_id(row[cols["user"]], path, line, mapping["user"]))
            items.append(c.as_id(row[cols["item"]], path, line, mapping["item"]))
            numbers.append(line)
            if "time" in cols:
                times.append(parse_time(row[cols["time"]], path, line, mapping["time"]))
            if "action" in cols:
                actions.append(row[cols["action"]].strip())
            if "value" in cols:
                values.append(row[cols["value"]])
        return RawDataset(
            users=users, items=items, timestamps=times if "time" in cols else None,
            actions=actions if "action" in cols else None,
            values=c.check_floats(values, path, mapping["value"], numbers) if "value" in cols else None,
            source_files=[c.source_file(path)])

    @staticmethod
    def _rows(reader, path: Path):
        return ((line, row) for line, row in c.csv_rows(reader, path) if row and any(x.strip() for x in row))


SPECS = [PluginSpec(
    name="csv", kind="reader", factory="workbench_plugins.readers.csv_generic:CSVReader", options=CSVOptions,
    description="Generic CSV/TSV with a column mapping (--map user=col,item=col,time=col,action=col,value=col)")]
