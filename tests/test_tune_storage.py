"""Optuna's storage is created once even when several processes open it at the same moment
(a background study and `studies show` polls raced on its schema migration and the study died)."""

import multiprocessing as mp

from workbench.tune.study import open_storage


def _open(ws_path: str, barrier) -> None:
    barrier.wait()
    open_storage(ws_path).get_all_studies()


def test_concurrent_openers_all_get_the_storage(tmp_path):
    ws_path = str(tmp_path / "ws.db")
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(4)
    procs = [ctx.Process(target=_open, args=(ws_path, barrier)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
