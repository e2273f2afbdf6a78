"""Helpers for driving the real Textual app in tests."""

from __future__ import annotations

import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared" / "datasets"


async def wait_for(pilot, condition, timeout: float = 30.0, step: float = 0.1, what: str = "condition"):
    """Let the app run until ``condition()`` is truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause(step)
        try:
            value = condition()
        except Exception:  # noqa: BLE001 - widgets may not be mounted yet
            value = None
        if value:
            return value
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def text_of(widget) -> str:
    """The plain text a Label/Static shows."""
    rendered = widget.render()
    return getattr(rendered, "plain", None) or str(rendered)


def table_rows(table) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def ratings_slice(tmp_path: Path, lines: int = 2000) -> Path:
    """The first ``lines`` ratings of MovieLens latest-small as a CSV (header kept)."""
    import pytest

    src = SHARED / "ml-latest-small" / "ratings.csv"
    if not src.exists():
        pytest.skip(f"real datasets not found at {SHARED} (see the project README)")
    out = tmp_path / "ratings-slice.csv"
    with src.open() as f, out.open("w") as g:
        for i, line in enumerate(f):
            if i > lines:
                break
            g.write(line)
    return out
