"""SASRec-style ``user item`` lines (order only, no timestamps; may be ``.gz``), plus optional item text.

This is the format of ``ml-1m.txt`` and ``Video.txt`` from the SASRec repository: one
interaction per line, space-separated integer ids, each user's lines in
chronological order. ``item_text`` names a TSV with a header whose first column
is the item id (e.g. ``sas_item_id movie_id title genres``); ``title`` and
``genres`` columns become the item's title and categories, the others go to
``extra``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from workbench.kinds import DatasetReader, PluginSpec, RawDataset, ReaderError
from workbench.options import option

from workbench_plugins.readers import _common as c

_LINE = re.compile(r"^\s*\d+[ \t]+\d+\s*$")


@dataclass
class SASRecOptions:
    item_text: str = option("", help="TSV with a header: first column = item id, plus title/genres columns")


class SASRecReader(DatasetReader):
    name = "sasrec"

    def detect(self, path: Path) -> float:
        path = Path(path)
        if not path.is_file():
            return 0.0
        rows = [r for r in c.lines(c.sniff(path))[:20] if r.strip()]
        if len(rows) > 1:
            rows = rows[:-1]  # the sniffed block may cut the last line
        if rows and all(_LINE.match(r) for r in rows):
            return 0.8
        return 0.0

    def read(self, path: Path) -> RawDataset:
        path = Path(path)
        if path.is_dir():
            raise ReaderError(path, None, None, "the sasrec format reads one file of 'user item' lines, not a folder")
        text = c.read_text(path)
        rows = c.lines(text)
        tokens = text.split()
        if len(tokens) != 2 * sum(1 for r in rows if r.strip()):
            # some line does not have exactly two fields: the row-by-row pass raises naming it
            for _ in c.split_rows([" ".join(r.split()) for r in rows], " ", path, ("user", "item")):
                pass
        users, items = tokens[0::2], tokens[1::2]
        if not all(u.isdigit() for u in users):
            self._bad(path, rows, 0, "user")
        if not all(i.isdigit() for i in items):
            self._bad(path, rows, 1, "item")
        raw = RawDataset(users=users, items=items, source_files=[c.source_file(path)])
        opts = self.options or SASRecOptions()
        if opts.item_text:
            tsv = Path(opts.item_text)
            raw.item_info = read_item_tsv(tsv)
            raw.source_files.append(c.source_file(tsv))
        return raw

    @staticmethod
    def _bad(path: Path, rows: list[str], col: int, field: str) -> None:
        for k, r in enumerate(rows):
            parts = r.split()
            if parts and not parts[col].isdigit():
                raise ReaderError(path, k + 1, field, f"expected a non-negative integer id, got {parts[col]!r}")


def read_item_tsv(path: Path) -> dict[str, dict]:
    """Item side info from a TSV with a header row; the first column is the item id."""
    rows = c.lines(c.read_text(path, ("utf-8", "latin-1")))
    if not rows:
        raise ReaderError(path, 1, None, "empty item-text file (expected a header row)")
    header = [h.strip() for h in rows[0].split("\t")]
    lower = [h.lower() for h in header]
    title_col = next((k for k, h in enumerate(lower) if h in ("title", "name", "item_title")), None)
    cat_col = next((k for k, h in enumerate(lower) if h in ("genres", "genre", "categories", "category")), None)
    info: dict[str, dict] = {}
    for line, parts in c.split_rows(rows[1:], "\t", path, tuple(header), first_line=2):
        item = c.as_id(parts[0], path, line, header[0])
        title = parts[title_col].strip() if title_col is not None else ""
        cats = [g for g in parts[cat_col].split("|") if g] if cat_col is not None else []
        extra = {header[k]: parts[k] for k in range(1, len(header)) if k not in (title_col, cat_col)}
        info[item] = {"title": title, "categories": cats, "text": c.item_text(title, cats), "extra": extra}
    return info


SPECS = [PluginSpec(
    name="sasrec", kind="reader", factory="workbench_plugins.readers.sasrec:SASRecReader",
    options=SASRecOptions,
    description="SASRec-style 'user item' lines (order only, .gz ok) with optional item-text TSV")]
