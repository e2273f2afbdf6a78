"""The import wizard with keys: the path field has the focus, errors are listed in place, an existing dataset
can be replaced. A small CSV written by the test (no shared datasets needed)."""

from __future__ import annotations

from textual.widgets import Button, Input, Select

from tui_helpers import text_of, wait_for
from workbench.store import open_workspace
from workbench.tui.app import WorkbenchApp

SIZE = (80, 24)


def write_csv(path, rows: int = 60, bad: str | None = None):
    lines = ["u,i,t"] + [f"{n % 7},{n % 11},{1000 + n}" for n in range(rows)]
    if bad is not None:
        lines.append(bad)
    path.write_text("\n".join(lines) + "\n")
    return path


async def open_wizard(app, pilot):
    await wait_for(pilot, lambda: app.current_mode == "datasets")
    await pilot.press("n")
    return await wait_for(pilot, lambda: app.screen if type(app.screen).__name__ == "ImportWizard" else None)


async def fill(wiz, pilot, path):
    await pilot.press(*path.name)  # typed (the path field has the focus), relative to the working folder
    wiz.query_one("#wiz-format", Select).value = "csv"
    await wait_for(pilot, lambda: wiz.query("#opt-reader-csv-map"), what="reader options")
    wiz.query_one("#opt-reader-csv-map", Input).value = "user=u,item=i,time=t"


async def test_wizard_focuses_the_path_shows_errors_and_offers_replace(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    good = write_csv(tmp_path / "clicks.csv")
    huge = "x" * 200_000
    bad = write_csv(tmp_path / "bad.csv", bad=f"3,{huge}")
    app = WorkbenchApp(tmp_path / "w.db", start_mode="datasets")
    async with app.run_test(size=SIZE) as pilot:
        wiz = await open_wizard(app, pilot)
        assert wiz.focused is wiz.query_one("#wiz-path", Input)
        await fill(wiz, pilot, bad)
        assert wiz.query_one("#wiz-path", Input).value == bad.name
        wiz.do_import()
        status = await wait_for(pilot, lambda: "bad.csv" in text_of(wiz.query_one("#wiz-status")) and
                                text_of(wiz.query_one("#wiz-status")), what="the error")
        assert "line" in status and len(status) <= 300  # a 200 kB value is cut, not repeated
        wiz.query_one("#wiz-path", Input).value = str(good)
        wiz.do_import()
        await wait_for(pilot, lambda: app.screen is not wiz, what="imported")
        wiz = await open_wizard(app, pilot)
        await fill(wiz, pilot, good)
        wiz.query_one("#wiz-name", Input).value = "clicks"
        wiz.do_import()
        await wait_for(pilot, lambda: not wiz.query_one("#replace-btn", Button).disabled, what="replace offered")
        assert "already exists" in text_of(wiz.query_one("#wiz-status"))
        wiz.query_one("#replace-btn", Button).press()
        await wait_for(pilot, lambda: app.screen is not wiz, what="replaced")
    with open_workspace(tmp_path / "w.db") as ws:
        assert [r[0] for r in ws.db.execute("SELECT name FROM datasets")] == ["clicks"]
