"""Tuning studies (``workbench tune``): the list of studies, and for the selected one its trials, the
best-so-far curve, Optuna's parameter importances, and cancel.

The list is the ``studies ls`` rows (:func:`workbench.tune.study.list_studies`); the study's detail is
``studies show``'s report (:func:`workbench.tune.study.study_report`), read in a background thread
(Optuna's storage and the importances take a moment) and re-read while the study is queued or running.
Cancel is ``studies cancel`` (:func:`workbench.tune.study.cancel_study`).
"""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, DataTable, Label, Static

from workbench.tui.screens.base import WorkbenchScreen
from workbench.tui.widgets.curves import CurvePlot
from workbench.tui.widgets.tables import fill_table

POLL_S = 2.0
ACTIVE = ("queued", "running")
STUDY_COLUMNS = ["study", "status", "trials", "name"]
BAR_WIDTH = 20


def fmt_value(v) -> str:
    if v is None:
        return "-"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def importance_text(report: dict) -> str:
    """Optuna's importances as bars, or why there are none (fewer than two completed trials, or Optuna
    could not rank the parameters)."""
    done = sum(t["state"] == "complete" for t in report["trials"])
    if report.get("importances_pending"):
        return f"computing Optuna's parameter importances over {done} completed trials ..."
    imp = report["importances"]
    if not imp:
        if done < 2:
            return (f"parameter importances need 2 completed trials; {done} so far "
                    f"(Optuna's fANOVA on the completed trials)")
        return (f"no parameter importances: Optuna could not rank the parameters from {done} completed trials "
                f"(e.g. they all have the same values)")
    width = max(len(k) for k in imp)
    lines = [f"parameter importances (Optuna's fANOVA over {done} completed trials):"]
    for key, value in imp.items():
        bar = "█" * max(1, round(value * BAR_WIDTH)) if value > 0 else ""
        lines.append(f"{escape(key):<{width}} {bar} {value:.2f}")
    return "\n".join(lines)


def trial_rows(report: dict) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The trials table: number, state, value, best so far, run id, then one column per searched key."""
    keys = list(report["space"])
    columns = ["trial", "state", report["monitor"], "best so far", "run", *keys]
    rows = []
    for t, best in zip(report["trials"], report["best_so_far"]):
        rows.append((str(t["number"]), [str(t["number"]), t["state"], fmt_value(t["value"]), fmt_value(best),
                                        fmt_value(t["run_id"]), *[fmt_value(t["params"].get(k)) for k in keys]]))
    return columns, rows


class StudiesScreen(WorkbenchScreen):
    MODE = "studies"
    BINDINGS = [
        Binding("x", "cancel_study", "Cancel study"),
        Binding("o", "open_run", "Open run"),
    ]

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="studies-body"):
            with Vertical(id="studies-left"):
                yield Label("Studies", classes="title")
                yield DataTable(id="studies-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="study"):  # at 80x24 the importances are below the fold
                yield Label("no study selected", id="study-title")
                yield Label("", id="study-info", classes="hint")
                with Horizontal(classes="buttons"):
                    yield Button("Cancel study (x)", id="cancel", variant="error", compact=True)
                    yield Button("Open trial's run (o)", id="open", compact=True)
                yield Label("", id="study-message", classes="hint")
                yield DataTable(id="trials-table", cursor_type="row", zebra_stripes=True)
                yield CurvePlot("best so far", id="best-plot")
                yield Static("", id="importances")

    def __init__(self) -> None:
        super().__init__()
        self.studies: list[dict] = []
        self.selected: int | None = None   # the study shown (group id)
        self.report: dict | None = None    # its latest studies-show report
        self._shown_key = None             # what the detail panes were last filled from
        self._reading = False
        self._study_rows: list = []

    def on_mount(self) -> None:
        self.set_interval(POLL_S, self.poll)

    # ------------------------------------------------------------ data
    def reload(self) -> None:
        self._shown_key = None
        self.poll()

    def poll(self) -> None:
        from workbench.store import WorkspaceError
        from workbench.tune.study import list_studies

        try:
            studies = list_studies(self.ws)
        except WorkspaceError as e:
            self.app.workspace_failed(e)
            return
        self._fill_studies(studies)
        if self.selected is None and studies:
            self.selected = studies[0]["id"]
        if self.selected is None:
            self._show_empty()
            return
        row = next((s for s in studies if s["id"] == self.selected), None)
        key = (self.selected, row["status"] if row else None, row["num_runs"] if row else None)
        if self._shown_key is None or self._shown_key[0] != self.selected:
            self.query_one("#study-title", Label).update(f"study g{self.selected}: reading Optuna's storage ...")
        if key != self._shown_key or (row and row["status"] in ACTIVE):
            self._read_report(self.selected, key)

    def _fill_studies(self, studies: list[dict]) -> None:
        """Refill the list only when a row changed; the cursor stays on the selected study, silently."""
        table = self.query_one("#studies-table", DataTable)
        rows = [(str(s["id"]), [f"g{s['id']}", s["status"], f"{s['num_runs']}/{s['spec'].get('trials')}",
                                (s["name"] or "")[:10]]) for s in studies]
        if rows != self._study_rows:
            keys = [k for k, _ in rows]
            with table.prevent(DataTable.RowHighlighted):
                fill_table(table, STUDY_COLUMNS, rows)
                if self.selected is not None and str(self.selected) in keys:
                    table.move_cursor(row=keys.index(str(self.selected)))
            self._study_rows = rows
        self.studies = studies

    def _show_empty(self) -> None:
        self.query_one("#study-title", Label).update(
            "no studies yet: start one with `workbench tune EXP.toml --trials 20 "
            "--set 'trainer.lr=loguniform(1e-4,1e-2)' --background` (docs/research.md)")
        self.query_one("#study-info", Label).update("")
        fill_table(self.query_one("#trials-table", DataTable), [], [])
        self.query_one("#best-plot", CurvePlot).set_series({}, title="best so far", xlabel="trial")
        self.query_one("#importances", Static).update("")
        self.query_one("#cancel", Button).disabled = True
        self.query_one("#open", Button).disabled = True

    def _read_report(self, group_id: int, key) -> None:
        """``studies show``'s report, read off the event loop; one read at a time."""
        if self._reading:
            return
        self._reading = True
        ws_path = self.app.ws_path

        def work() -> None:
            """The trials first (a fraction of a second), then the importances (the first fANOVA of a
            process takes seconds: its imports)."""
            from workbench.store import open_workspace
            from workbench.tune.study import study_report
            try:
                with open_workspace(ws_path) as ws:
                    report = study_report(ws, group_id, importances=False)
                    pending = sum(t["state"] == "complete" for t in report["trials"]) >= 2
                    self.app.call_from_thread(self._show_report, {**report, "importances_pending": pending}, key)
                    if pending:
                        report = study_report(ws, group_id)
                        self.app.call_from_thread(self._show_report, report, key)
            except Exception as e:  # noqa: BLE001 - shown in place; the next poll tries again
                self.app.call_from_thread(self._message, f"[red]study g{group_id}: cannot read it: "
                                                         f"{escape(str(e))}[/red]")
            finally:
                self.app.call_from_thread(self._read_done)

        self.run_worker(work, thread=True, group="study-report")

    def _read_done(self) -> None:
        self._reading = False

    def _show_report(self, report: dict, key) -> None:
        if report["group_id"] != self.selected:
            return  # the user moved on meanwhile; the next poll reads the new one
        previous = self.report
        self.report, self._shown_key = report, key
        best = report["best"]
        status = report["status"]
        style = {"completed": "green", "failed": "red", "cancelled": "yellow", "running": "cyan"}.get(status, "white")
        title = (f"[b]study g{report['group_id']}[/b] {escape(report['name'])}  [{style}]{status}[/]  "
                 f"{len(report['trials'])}/{report['trials_requested']} trials")
        if best:
            title += f"  best {report['monitor']} {best['value']:.4f} (trial {best['number']}, run {best['run_id']})"
        self.query_one("#study-title", Label).update(title)
        space = ", ".join(f"{k} ~ {v}" for k, v in report["space"].items())
        info = escape(f"maximising validation {report['monitor']}; pruner {report['pruner']} from epoch "
                      f"{report['prune_after']}; {space}")
        if report["error"]:
            info += f"\n[red]{escape(report['error'].strip().splitlines()[-1])}[/red]"
        self.query_one("#study-info", Label).update(info)
        columns, rows = trial_rows(report)
        fill_table(self.query_one("#trials-table", DataTable), columns, rows)
        xs = [t["number"] for t, b in zip(report["trials"], report["best_so_far"]) if b is not None]
        ys = [b for b in report["best_so_far"] if b is not None]
        done = [(t["number"], t["value"]) for t in report["trials"] if t["state"] == "complete"]
        series = {"best so far": (xs, ys)}
        if done:
            series["trial value"] = ([n for n, _ in done], [v for _, v in done])
        self.best_curve = (xs, ys)
        self.query_one("#best-plot", CurvePlot).set_series(
            series, title=f"best validation {report['monitor']} so far", xlabel="trial")
        # a re-read of the same study keeps its importances shown until the new ones are computed
        if not (report.get("importances_pending") and previous and previous["group_id"] == report["group_id"]
                and previous["importances"]):
            self.query_one("#importances", Static).update(importance_text(report))
        self.query_one("#cancel", Button).disabled = status not in ACTIVE
        self.query_one("#open", Button).disabled = not report["trials"]

    # ------------------------------------------------------------ actions
    def _message(self, text: str) -> None:
        self.query_one("#study-message", Label).update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id != "studies-table" or event.row_key is None or not event.row_key.value:
            return
        group_id = int(event.row_key.value)
        if group_id != self.selected:
            self.selected, self._shown_key = group_id, None
            self._message("")
            self.poll()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "trials-table":
            self.action_open_run()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        {"cancel": self.action_cancel_study, "open": self.action_open_run}[event.button.id]()

    def action_cancel_study(self) -> None:
        """Ask, then cancel the study as `workbench studies cancel gN` does."""
        from workbench.tui.widgets.confirm import Confirm

        group_id = self.selected
        if group_id is None:
            self._message("no study selected")
            return
        row = next((s for s in self.studies if s["id"] == group_id), None)
        if row is None or row["status"] not in ACTIVE:
            self._message(f"study g{group_id} is {row['status'] if row else 'gone'}: nothing to cancel")
            return

        def done(yes: bool | None) -> None:
            from workbench.tune.study import StudyError, cancel_study
            if not yes:
                return
            try:
                cancel_study(self.ws, group_id)
            except StudyError as e:
                self._message(escape(str(e)))
                return
            self._message(f"study g{group_id}: cancel requested; its running trial stops at its next poll "
                          f"and no new trial starts")
            self.poll()

        self.app.push_screen(Confirm(f"Cancel study g{group_id}? Its running trial stops (stored as cancelled) "
                                     f"and no new trial starts.", yes="Cancel study"), done)

    def action_open_run(self) -> None:
        """Show the highlighted trial's run on the Runs screen."""
        table = self.query_one("#trials-table", DataTable)
        trials = (self.report or {}).get("trials") or []
        if not trials or table.row_count == 0:
            self._message("no trial to open")
            return
        row = min(max(table.cursor_row, 0), len(trials) - 1)
        run_id = trials[row]["run_id"]
        if run_id is None:
            self._message(f"trial {trials[row]['number']} has no run")
            return
        self.app.show_run(int(run_id))
