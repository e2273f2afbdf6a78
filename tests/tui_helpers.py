"""Helpers for driving the real Textual app in tests."""

from __future__ import annotations

import time
from pathlib import Path



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
    """The first ``lines`` events of the generated demo data (:mod:`workbench.data.demo`) as a
    MovieLens-style ``ratings.csv`` (header ``userId,movieId,rating,timestamp``; times in whole
    seconds; ``rating`` is how deep in the funnel the event went, 1 = view ... 4 = purchase)."""
    from workbench.data.demo import ACTIONS, DemoSpec, generate

    raw = generate(DemoSpec(users=max(50, lines // 10)))
    assert len(raw.users) >= lines, "the demo spec gave fewer events than asked for"
    out = tmp_path / "ratings-slice.csv"
    rows = ["userId,movieId,rating,timestamp"]
    for u, i, a, t in list(zip(raw.users, raw.items, raw.actions, raw.timestamps))[:lines]:
        rows.append(f"{u},{i},{ACTIONS.index(a) + 1},{round(t)}")
    out.write_text("\n".join(rows) + "\n")
    return out
