"""MovieLens "latest" CSV releases: ``ratings.csv`` (+ ``movies.csv``, ``tags.csv``), UTF-8, CRLF or LF.

Reads the folder (or the path of ``ratings.csv``). Tags become part of the
item text (``title. Genres: .... Tags: ...``).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from workbench.kinds import DatasetReader, PluginSpec, RawDataset, ReaderError
from workbench.options import option

from workbench_plugins.readers import _common as c

RATINGS_HEADER = ["userId", "movieId", "rating", "timestamp"]


@dataclass
class MovieLensCSVOptions:
    side_files: bool = option(True, help="Read movies.csv / tags.csv next to ratings.csv")


def _ratings_path(path: Path) -> Path | None:
    path = Path(path)
    if path.is_dir():
        p = path / "ratings.csv"
        return p if p.is_file() else None
    return path if path.is_file() and path.suffix == ".csv" else None


class MovieLensCSVReader(DatasetReader):
    name = "movielens_csv"

    def detect(self, path: Path) -> float:
        p = _ratings_path(path)
        if p is None:
            return 0.0
        head = c.lines(c.sniff(p, 256))[:1]
        return 0.95 if head and head[0].strip().split(",") == RATINGS_HEADER else 0.0

    def read(self, path: Path) -> RawDataset:
        rpath = _ratings_path(path)
        if rpath is None:
            raise ReaderError(path, None, None, "no ratings.csv here (expected a MovieLens latest CSV folder)")
        rows = c.lines(c.read_text(rpath))
        if not rows or rows[0].strip().split(",") != RATINGS_HEADER:
            raise ReaderError(rpath, 1, None, f"expected the header {','.join(RATINGS_HEADER)}")
        cols = c.table(rows[1:], ",", rpath, tuple(RATINGS_HEADER), first_line=2,
                       numeric_ids=("userId", "movieId"), floats=("rating", "timestamp"))
        raw = RawDataset(users=cols["userId"], items=cols["movieId"], values=cols["rating"],
                         timestamps=cols["timestamp"], source_files=[c.source_file(rpath)])
        opts = self.options or MovieLensCSVOptions()
        folder = rpath.parent
        if opts.side_files:
            tags: dict[str, list[str]] = {}
            if (folder / "tags.csv").is_file():
                for _line, rec in _csv_records(folder / "tags.csv", ["userId", "movieId", "tag", "timestamp"]):
                    c.add_tag(tags, rec["movieId"].strip(), rec["tag"])
                raw.source_files.append(c.source_file(folder / "tags.csv"))
            if (folder / "movies.csv").is_file():
                for line, rec in _csv_records(folder / "movies.csv", ["movieId", "title", "genres"]):
                    mid = c.as_id(rec["movieId"], folder / "movies.csv", line, "movieId")
                    cats = [g for g in rec["genres"].split("|") if g and g != "(no genres listed)"]
                    t = tags.get(mid, [])
                    raw.item_info[mid] = {"title": rec["title"], "categories": cats,
                                          "text": c.item_text(rec["title"], cats, t),
                                          "extra": {"tags": t} if t else {}}
                raw.source_files.append(c.source_file(folder / "movies.csv"))
        return raw


def _csv_records(path: Path, header: list[str]):
    """(line, {column: value}) for each row of a quoted CSV file with the given header."""
    reader = csv.reader(io.StringIO(c.read_text(path), newline=""))
    try:
        first = next(reader)
    except StopIteration:
        raise ReaderError(path, 1, None, "empty file (expected a header row)") from None
    except csv.Error as e:
        raise ReaderError(path, 1, None, f"bad CSV: {e}") from None
    if [h.strip() for h in first] != header:
        raise ReaderError(path, 1, None, f"expected the header {','.join(header)}, got {','.join(first)}")
    for line, row in c.csv_rows(reader, path):
        if not row:
            continue
        if len(row) != len(header):
            raise ReaderError(path, line, None, f"expected {len(header)} fields ({', '.join(header)}), got {len(row)}")
        yield line, dict(zip(header, row))


SPECS = [PluginSpec(
    name="movielens_csv", kind="reader", factory="workbench_plugins.readers.movielens_csv:MovieLensCSVReader",
    options=MovieLensCSVOptions,
    description="MovieLens latest CSV folder (ratings.csv + movies.csv/tags.csv; tags become item text)")]
