"""The app finds runs whose trainer died by itself: a foreground `workbench run` killed while the app is
open turns `failed` ("process N died") on the Runs screen, through the same reaper as the CLI
(issue 15, defect 4)."""

from __future__ import annotations

import subprocess
import sys

from textual.widgets import DataTable
from tui_helpers import demo_workspace, table_rows, wait_for
from workbench.store import leases, open_workspace
from workbench.tui.app import WorkbenchApp


async def test_the_runs_screen_marks_a_run_whose_process_died_as_failed(wb_home, tmp_path):
    ws_path = tmp_path / "w.db"
    (run_id,) = demo_workspace(ws_path, runs=1)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()                                    # a process that trained the run and was killed
    with open_workspace(ws_path) as ws:
        leases.acquire(ws, run_id, gone.pid)
        ws.db.execute("UPDATE runs SET status = 'running' WHERE id = ?", [run_id])
        ws.db.conn.commit()
    app = WorkbenchApp(ws_path)
    async with app.run_test(size=(100, 30)) as pilot:
        table = await wait_for(pilot, lambda: app.screen.query_one("#runs-table", DataTable)
                               if app.current_mode == "runs" else None, what="the runs screen")
        await wait_for(pilot, lambda: any("failed" in cell for row in table_rows(table) for cell in row),
                       timeout=60, what="the dead run shown failed")
    with open_workspace(ws_path) as ws:
        status, error = ws.db.execute("SELECT status, error FROM runs WHERE id = ?", [run_id]).fetchone()
    assert status == "failed" and error == f"process {gone.pid} died"
