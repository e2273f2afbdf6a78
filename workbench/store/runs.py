"""Run rows (``runs`` table): reading one run."""

from __future__ import annotations


def get_run(ws, run_id: int) -> dict:
    """The ``runs`` row of ``run_id`` as a dict; KeyError naming the workspace when there is none."""
    rows = list(ws.db.query("SELECT * FROM runs WHERE id = ?", [run_id]))
    if not rows:
        raise KeyError(f"no run {run_id} in {ws.path}")
    return rows[0]
