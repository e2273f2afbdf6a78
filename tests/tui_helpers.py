"""Helpers for driving the real Textual app in tests."""

from __future__ import annotations

import json
import time
from pathlib import Path



async def wait_for(pilot, condition, timeout: float = 30.0, step: float = 0.02, what: str = "condition"):
    """Let the app run until ``condition()`` is truthy; fail with ``what`` after ``timeout`` seconds.

    The condition is checked at once (after the app processed what is pending), then every ``step``
    seconds: a wait costs what the app needs, not a fixed pause. Load on the machine only makes it
    take longer, up to ``timeout``."""
    deadline = time.monotonic() + timeout
    await pilot.pause(0)
    while True:
        try:
            value = condition()
        except Exception:  # noqa: BLE001 - widgets may not be mounted yet
            value = None
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await pilot.pause(step)


async def polls_pass(pilot, screen, count: int = 2, timeout: float = 60.0) -> None:
    """Let the Runs screen read the workspace ``count`` more times (its poll runs every 0.5 s): what a poll
    could change has had its chance to happen."""
    start = screen.polls
    await wait_for(pilot, lambda: screen.polls >= start + count, timeout=timeout, what=f"{count} polls")


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


def tiny_config(name: str = "tiny", epochs: int = 1) -> dict:
    """A small, fast experiment on the generated ``demo`` dataset (CPU, one thread)."""
    return {"name": name, "dataset": "demo", "model": {"dim": 16, "max_len": 20},
            "views": [{"type": "sasrec", "blocks": 1}], "fusion": {"type": "identity"}, "head": {"type": "softmax_ce"},
            "evaluators": [{"type": "ranking", "ks": [10], "metrics": ["HR", "NDCG"]}],
            "trainer": {"epochs": epochs, "batch_size": 32, "patience": 0, "device": "cpu", "threads": 1}}


def demo_workspace(path: Path, runs: int = 0, status: str = "queued") -> list[int]:
    """A workspace at ``path`` with a small generated ``demo`` dataset, the ``tiny`` experiment saved and
    ``runs`` created (queued, not started: no worker; ``status="cancelled"``: then cancelled, as
    ``workbench jobs cancel`` does to a queued job). Returns the run ids, oldest first."""
    from workbench.data.demo import DemoSpec, ensure_demo_workspace
    from workbench.engine.runner import create_run
    from workbench.store import experiments
    from workbench.store import runs as run_rows

    ws = ensure_demo_workspace(str(path), DemoSpec(users=80, items=60, sessions_per_user=3))
    try:
        experiments.save(ws, "tiny", tiny_config())
        ids = [create_run(ws, tiny_config(f"run-{i + 1}")) for i in range(runs)]
        if status != "queued":
            for run_id in ids:
                run_rows.set_status(ws, run_id, status)
        return ids
    finally:
        ws.close()


def hit_rate_for(ndcg: float) -> float:
    """A plausible HR@10 beside an NDCG@10 of ``ndcg`` (one held-out item per user): HR@10 is at least
    NDCG@10, at most 1, and at most NDCG@10 * log2(11) (a hit at rank 10 scores 1 / log2(11) = 0.29)."""
    assert 0.0 <= ndcg <= 1.0, f"NDCG@10 {ndcg} is not in [0, 1]"
    return min(1.0, round(ndcg * 1.6, 4))


def record_training(path: Path, run_id: int, ndcg: list[float], *, test: dict | None = None,
                    status: str = "completed", progress: dict | None = None) -> None:
    """Record on queued run ``run_id`` what its worker's :class:`~workbench.engine.recorder.RunRecorder`
    writes while it trains: one ``epoch_finished`` per value of ``ndcg`` (validation NDCG@10 = value,
    HR@10 = :func:`hit_rate_for` it, timings ``train_s``/``forward_s``; train loss falling from 5), then ``status``
    (``completed`` with ``test`` metrics and the best epoch; ``running`` with its ``progress`` snapshot)."""
    from workbench.engine.recorder import RunRecorder
    from workbench.events import Event
    from workbench.store import open_workspace
    from workbench.store import runs as run_rows

    with open_workspace(path) as ws:
        run_rows.set_status(ws, run_id, "running")
        recorder = RunRecorder(ws, run_id, throttle_s=0.0)
        best = max(range(len(ndcg)), key=lambda i: ndcg[i]) + 1 if ndcg else None
        for epoch, value in enumerate(ndcg, 1):
            recorder(Event("epoch_finished", {"epoch": epoch, "train_loss": 5.0 / epoch, "wall_time": 1.5,
                                              "metrics": {"train_s": 1.0, "NDCG@10": value, "HR@10": hit_rate_for(value),
                                                          "forward_s": 0.25, "ranking_s": 0.25},
                                              "best_epoch": best, "lr": 0.001}))
        if status == "running":
            if progress is not None:
                recorder(Event("step", progress))
            return
        run_rows.set_status(ws, run_id, status, best_epoch=best, finished_at=time.time(),
                            test_metrics=json.dumps(test or {}))


def isolated_home(tmp_path: Path, monkeypatch) -> Path:
    """WORKBENCH_HOME in ``tmp_path``, no WORKBENCH_WORKSPACE, working directory ``tmp_path``."""
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WORKBENCH_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "home"
