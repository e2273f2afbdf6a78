"""Filling a DataTable with column widths computed from the content (never truncated below the data)."""

from __future__ import annotations

from typing import Iterable, Sequence

from textual.widgets import DataTable


def fill_table(table: DataTable, columns: Sequence[str | tuple[str, str]], rows: Iterable[tuple[str | None, list]],
               *, max_width: int = 40, keep_cursor: bool = True) -> None:
    """Replace the table's columns and rows.

    ``columns``: labels, or (key, label) pairs. ``rows``: (row key or None, cells). Each
    column is as wide as its longest cell or label (capped at ``max_width``): Textual's
    auto width does not always grow when rows arrive after the first layout.
    """
    rows = [(key, [str(c) for c in cells]) for key, cells in rows]
    cols = [c if isinstance(c, tuple) else (c, c) for c in columns]
    cursor = table.cursor_row
    table.clear(columns=True)
    for i, (key, label) in enumerate(cols):
        width = max([len(label)] + [len(cells[i]) for _, cells in rows if i < len(cells)])
        table.add_column(label, key=key, width=min(width, max_width))
    for key, cells in rows:
        table.add_row(*cells, key=key)
    if keep_cursor and rows:
        table.move_cursor(row=min(max(cursor, 0), len(rows) - 1))
