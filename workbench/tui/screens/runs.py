"""Runs and the live run monitor: progress with ETA, loss and metric curves, epochs, log tail, cancel/resume.

The curves work like TensorBoard's scalars: ``s`` steps the smoothing (debiased EMA, raw points kept dim),
``+``/``-`` zoom the epoch axis, ``[``/``]`` pan it, ``0`` shows every epoch again, and ``space`` pins the
highlighted run so that its curves stay overlaid (named in the legend) while other runs are selected.

The screen polls the workspace twice a second with cheap queries; training
happens in a separate worker process, so nothing here blocks on it, and a
reopened app re-attaches to whatever is running.
"""

from __future__ import annotations

import time

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Label, Log, ProgressBar, TabbedContent, TabPane

from workbench.comparison import metric_names
from workbench.store import runs as run_rows
from workbench.tui.format import fmt_duration
from workbench.tui.screens.base import WorkbenchScreen
from workbench.tui.widgets.curve_view import XWindow, next_smoothing
from workbench.tui.widgets.curves import CurvePlot
from workbench.tui.widgets.tables import fill_table

POLL_S = 0.5
REAP_EVERY_S = 5.0
RUN_COLUMNS = ["id", "name", "status", "done"]
CHART_KEYS = Binding.Group("Chart", compact=True)  # one footer entry for s + - [ ] 0


def wrapped(line: str, width: int) -> list[str]:
    """A log line cut into pieces of at most ``width`` characters (continuations indented), so nothing is
    hidden past the right edge."""
    if len(line) <= width:
        return [line]
    import textwrap

    return textwrap.wrap(line, width, subsequent_indent="  ", break_long_words=True, drop_whitespace=False) or [line]


def error_summary(error: str | None) -> str:
    """The last meaningful line of a stored traceback (the exception and its message), cut to 120 chars."""
    lines = [line.strip() for line in (error or "").strip().splitlines() if line.strip()]
    if not lines:
        return ""
    text = lines[-1]
    return text if len(text) <= 120 else text[:117] + "..."


def done_percent(run: dict) -> str:
    """The run's "done" figure as the runs table and the monitor's progress label both show it."""
    return f"{round(_progress_fraction(run)[0] * 100)}%"


def _progress_fraction(run: dict) -> tuple[float, str]:
    """(fraction 0..1, label) from the run's progress snapshot and status."""
    if run["status"] == "completed":
        return 1.0, "done"
    p = run.get("progress") or {}
    epochs = p.get("epochs") or ((run.get("config") or {}).get("trainer") or {}).get("epochs")
    epoch, step, steps = p.get("epoch"), p.get("step"), p.get("steps")
    if not epoch or not epochs:
        return 0.0, run["status"]
    if p.get("phase") == "epoch":  # the snapshot written when an epoch finished
        return min(1.0, epoch / epochs), f"epoch {epoch}/{epochs} done"
    frac_epoch = (step / steps) if step is not None and steps else 0.0
    frac = min(1.0, ((epoch - 1) + frac_epoch) / epochs)
    label = f"epoch {epoch}/{epochs}"
    if step is not None and steps:
        label += f" step {step}/{steps}"
    return frac, label


class RunsScreen(WorkbenchScreen):
    MODE = "runs"
    BINDINGS = [
        Binding("x", "cancel_run", "Cancel run"),
        Binding("u", "resume_run", "Resume"),
        Binding("m", "next_metric", "Metric"),
        Binding("s", "next_smoothing", "Smooth", group=CHART_KEYS),
        Binding("plus,equals_sign", "zoom(1)", "Zoom in", group=CHART_KEYS),
        Binding("minus", "zoom(-1)", "Zoom out", group=CHART_KEYS),
        Binding("left_square_bracket", "pan(-1)", "Pan left", group=CHART_KEYS),
        Binding("right_square_bracket", "pan(1)", "Pan right", group=CHART_KEYS),
        Binding("0", "all_epochs", "All epochs", group=CHART_KEYS),
        Binding("space", "toggle_pin", "Pin run"),
    ]

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="runs-body"):
            with Vertical(id="runs-left"):
                yield Label("Runs", classes="title")
                yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
            with Vertical(id="monitor"):
                yield Label("no run selected: launch one from Experiment (e)", id="run-title")
                yield Label("", id="run-info", classes="hint")
                group_line = Label("", id="run-group", classes="hint")
                group_line.display = False  # shown with a group
                yield group_line
                with Horizontal(id="run-progress-row"):
                    yield ProgressBar(total=1.0, show_eta=False, show_percentage=False, id="run-progress")
                    yield Label("", id="run-eta")
                with Horizontal(classes="buttons"):
                    yield Button("Cancel (x)", id="cancel", variant="error", compact=True)
                    yield Button("Resume (u)", id="resume", variant="primary", compact=True)
                    yield Button("Metric (m)", id="metric", compact=True)
                with TabbedContent(id="run-tabs"):
                    with TabPane("Curves", id="tab-curves"):
                        yield Label("", id="curve-view", classes="hint")
                        with Horizontal():
                            yield CurvePlot("train loss", id="loss-plot")
                            yield CurvePlot("validation", id="metric-plot")
                    with TabPane("Epochs", id="tab-epochs"):
                        yield DataTable(id="epochs-table", zebra_stripes=True)
                    with TabPane("Log", id="tab-log"):
                        yield Log(id="run-log", max_lines=2000)
                yield Label("", id="run-message", classes="hint")

    def __init__(self) -> None:
        super().__init__()
        self._row_keys: list[str] | None = None  # the runs table's rows, newest first
        self._row_cells: dict[str, list[str]] = {}
        self.refills = 0  # full refills of the runs table (a test bounds them)
        self.polls = 0  # reads of the workspace done (tests wait for some to pass instead of sleeping)
        self._monitored: int | None = None  # the run the monitor panes show
        self._epochs_seen = -1
        self._log_after = 0
        self._error_shown = False
        self._metric: str | None = None  # None: the run's monitored metric
        self._last_reap = 0.0
        self.smoothing = 0.0  # the curves' EMA weight (s steps it)
        self.window = XWindow()  # the shown epochs (+ - [ ] 0)
        self.pinned: list[int] = []  # runs whose curves stay overlaid (space), in pinning order
        self._pinned_epochs: dict[int, tuple[tuple, list[dict]]] = {}  # run -> (its progress then, epoch rows)
        self._names: dict[int, str] = {}

    def on_mount(self) -> None:
        self.set_interval(POLL_S, self.poll)

    # ------------------------------------------------------------ data
    def reload(self) -> None:
        """Re-read everything (the screen is shown again, or the workspace changed): changed cells are
        updated in place, the table is refilled only when the set of runs differs."""
        if self.app.selected_run is None:
            runs = run_rows.monitor_list(self.ws)
            if runs:
                self.app.selected_run = runs[0]["id"]
        self._monitored = None
        self.poll()

    def select_run(self, run_id: int) -> None:
        """Show ``run_id`` in the monitor; moves the table cursor to it without emitting a selection."""
        self.app.selected_run = run_id
        if run_id != self._monitored and self.is_mounted:
            self.poll()

    def _reset_monitor(self, run_id: int | None) -> None:
        self._monitored = run_id
        self._epochs_seen = -1
        self._epoch_rows: list[dict] = []
        self._log_after = 0
        self._error_shown = False
        self.query_one("#run-log", Log).clear()

    def poll(self) -> None:
        from workbench.store import WorkspaceError

        try:
            self._poll()
        except WorkspaceError as e:
            self.app.workspace_failed(e)

    def _poll(self) -> None:
        self.polls += 1
        now = time.time()
        if now - self._last_reap > REAP_EVERY_S:
            from workbench.jobs.queue import reap_dead

            self._last_reap = now
            reap_dead(self.ws)
        runs = run_rows.monitor_list(self.ws)
        self._names = {r["id"]: r["name"] or "" for r in runs}
        self.pinned = [run_id for run_id in self.pinned if run_id in self._names]  # deleted runs drop out
        self._fill_runs(runs)
        selected = self.app.selected_run
        if selected != self._monitored:
            self._reset_monitor(selected)
            self._sync_cursor()
        pins_changed = self._read_pinned(runs)
        if selected is not None:
            self._fill_monitor(selected)
        if pins_changed:
            self._draw_curves()

    def _read_pinned(self, runs: list[dict]) -> bool:
        """Re-read the epoch rows of pinned runs whose progress moved; True when any changed."""
        changed = False
        by_id = {r["id"]: r for r in runs}
        for run_id in list(self._pinned_epochs):
            if run_id not in self.pinned:
                del self._pinned_epochs[run_id]
                changed = True
        for run_id in self.pinned:
            r = by_id[run_id]
            stamp = (r["status"], (r["progress"] or {}).get("epoch"), (r["progress"] or {}).get("phase"))
            if self._pinned_epochs.get(run_id, (None,))[0] != stamp:
                self._pinned_epochs[run_id] = (stamp, run_rows.epochs(self.ws, run_id))
                changed = True
        return changed

    def _fill_runs(self, runs: list[dict]) -> None:
        """Update the runs table: changed cells in place, a full refill only when the set of runs changed.

        Neither moves the cursor through other rows nor emits a highlight: a highlight
        means the user moved, which selects a run, which must not fill the table again.
        """
        table = self.query_one("#runs-table", DataTable)
        cells = {str(r["id"]): [("*" if r["id"] in self.pinned else "") + str(r["id"]), (r["name"] or "")[:14],
                                r["status"], done_percent(r)] for r in runs}
        keys = list(cells)
        with table.prevent(DataTable.RowHighlighted, DataTable.CellHighlighted):
            if keys == self._row_keys:
                for key in keys:
                    if cells[key] != self._row_cells.get(key):
                        for column, value in zip(RUN_COLUMNS, cells[key]):
                            table.update_cell(key, column, value)
            else:
                self.refills += 1
                fill_table(table, RUN_COLUMNS, [(k, cells[k]) for k in keys], keep_cursor=False)
                self._row_keys = keys
                self._sync_cursor()
        self._row_cells = cells

    def _sync_cursor(self) -> None:
        """Put the table cursor on the selected run, silently."""
        table = self.query_one("#runs-table", DataTable)
        run_id = self.app.selected_run
        if run_id is None or not self._row_keys or str(run_id) not in self._row_keys:
            return
        row = self._row_keys.index(str(run_id))
        if table.cursor_row != row:
            with table.prevent(DataTable.RowHighlighted, DataTable.CellHighlighted):
                table.move_cursor(row=row)

    def _fill_monitor(self, run_id: int) -> None:
        run = run_rows.detail(self.ws, run_id)
        if run is None:
            return
        p = run["progress"] or {}
        title = f"[b]run {run['id']}[/b] {escape(run['name'] or '')}  [{self._status_style(run['status'])}]" \
                f"{run['status']}[/]"
        error = error_summary(run.get("error"))
        if run["status"] == "failed" and error:
            title += f"  [red]{escape(error)}[/red]"
        self.query_one("#run-title", Label).update(title)
        info = [f"device {run['device'] or '-'}"]
        if p.get("memory_mb") is not None:
            info.append(f"memory {p['memory_mb']:.0f} MB")
        if p.get("samples_per_s") is not None:
            info.append(f"{p['samples_per_s']:.0f} samples/s")
        if p.get("loss") is not None:
            info.append(f"loss {p['loss']:.4f}")
        if run.get("best_epoch"):
            info.append(f"best epoch {run['best_epoch']}")
        if run.get("test_metrics"):
            info.append("test " + " ".join(f"{k}={v:.4f}" for k, v in list(run["test_metrics"].items())[:3]))
        self.query_one("#run-info", Label).update("  ".join(info))
        self._fill_group(run.get("group_id"))
        frac, label = _progress_fraction(run)
        self.query_one("#run-progress", ProgressBar).update(progress=frac)
        eta = p.get("eta_s") if run["status"] == "running" else None
        label = f" {done_percent(run)}  {label}"  # the same figure as the table's "done" column
        self.query_one("#run-eta", Label).update(f"{label}  ETA {fmt_duration(eta)}" if eta is not None else label)
        self.query_one("#cancel", Button).disabled = run["status"] not in ("queued", "running")
        self.query_one("#resume", Button).disabled = run["status"] not in ("cancelled", "failed")
        self._monitor_metric = ((run.get("config") or {}).get("trainer") or {}).get("monitor")
        self._fill_epochs(run_id)
        self._fill_log(run_id, run)

    def _fill_group(self, group_id: int | None) -> None:
        """The run's seeds group (mean, sd, 95% CI over its completed runs) or tuning study, if any."""
        text = ""
        if group_id is not None:
            from workbench.engine.seeds import group_view
            from workbench.tui.group_text import group_line

            view = group_view(self.ws, group_id)
            text = escape(group_line(view)) if view is not None else ""
        label = self.query_one("#run-group", Label)
        label.update(text)
        label.display = bool(text)

    @staticmethod
    def _status_style(status: str) -> str:
        return {"completed": "green", "failed": "red", "cancelled": "yellow", "running": "cyan"}.get(status, "white")

    def _fill_epochs(self, run_id: int) -> None:
        rows = run_rows.epochs(self.ws, run_id)
        if len(rows) == self._epochs_seen:
            return
        self._epochs_seen = len(rows)
        self._epoch_rows = rows
        names = metric_names(rows)
        fill_table(self.query_one("#epochs-table", DataTable), ["epoch", "loss", *names, "time"],
                   [(None, [str(r["epoch"]), f"{r['train_loss']:.4f}" if r["train_loss"] is not None else "-",
                            *[f"{r['metrics'].get(n, float('nan')):.4f}" for n in names],
                            fmt_duration(r["wall_time"])]) for r in rows], keep_cursor=False)
        self._draw_curves()

    def _shown_runs(self) -> list[tuple[int, list[dict]]]:
        """(run, its epoch rows) for every run the curves show: the monitored one, then the pinned ones."""
        shown = [(self._monitored, getattr(self, "_epoch_rows", []))] if self._monitored is not None else []
        return shown + [(run_id, self._pinned_epochs[run_id][1]) for run_id in self.pinned
                        if run_id != self._monitored and run_id in self._pinned_epochs]

    def _draw_curves(self) -> None:
        shown = self._shown_runs()
        overlay = len(shown) > 1

        def name(run_id: int, single: str) -> str:  # several runs: each named in the legend
            return f"{run_id} {self._names.get(run_id, '')}".strip() if overlay else single

        def points(rows: list[dict], value) -> tuple[list, list]:
            pts = [(r["epoch"], value(r)) for r in rows if value(r) is not None]
            return [x for x, _ in pts], [y for _, y in pts]

        loss = {name(run_id, "loss"): points(rows, lambda r: r["train_loss"]) for run_id, rows in shown}
        names = metric_names([r for _, rows in shown for r in rows])
        monitored = getattr(self, "_monitor_metric", None)
        metric = self._metric if self._metric in names else monitored if monitored in names else \
            (names[0] if names else None)
        self.shown_metric = metric
        series = {name(run_id, metric): points(rows, lambda r: r["metrics"].get(metric))
                  for run_id, rows in shown} if metric else {}
        loss_plot, metric_plot = self.query_one("#loss-plot", CurvePlot), self.query_one("#metric-plot", CurvePlot)
        full = self._epoch_extent()
        if full is not None and not self.window.whole and not (full[0] <= self.window.lo < self.window.hi <= full[1]):
            self.window = XWindow()  # another run with fewer epochs: show all of it
        self.query_one("#curve-view", Label).update(self._view_label(full, self.pinned))
        loss_plot.set_series(loss, title="train loss", smoothing=self.smoothing, window=self.window)
        metric_plot.set_series(series, title=f"validation {metric}" if metric else "validation",
                               smoothing=self.smoothing, window=self.window)

    def _view_label(self, full: tuple[float, float] | None, pinned: list[int]) -> str:
        """The line above the charts: the smoothing, the shown epochs and the pinned runs, or the keys for them.
        (Not in the chart titles: plotext drops a title wider than its chart, ~23 columns at 80x24.)"""
        parts = [f"smoothing {self.smoothing:g}" if self.smoothing else "no smoothing (s)"]
        parts.append(f"{self.window.label()} of {full[0]:g}-{full[1]:g}" if not self.window.whole and full
                     else "all epochs (+ zooms)")
        parts.append("pinned " + ", ".join(map(str, pinned)) if pinned else "no pins (space)")
        return " · ".join(parts)

    def _epoch_extent(self) -> tuple[float, float] | None:
        """The epochs the curves span (over every shown run), None before the first epoch."""
        xs = [r["epoch"] for _, rows in self._shown_runs() for r in rows]
        return (min(xs), max(xs)) if xs else None

    def _fill_log(self, run_id: int, run: dict) -> None:
        events = run_rows.events(self.ws, run_id, self._log_after)
        log = self.query_one("#run-log", Log)
        width = max(40, (log.size.width or self.size.width or 80) - 2)
        for e in events:
            self._log_after = e["id"]
            stamp = time.strftime("%H:%M:%S", time.localtime(e["ts"]))
            log.write_lines(wrapped(f"{stamp} {e['kind']}: {e['message']}", width))
        if run["status"] == "failed" and run.get("error") and not self._error_shown:
            self._error_shown = True
            log.write_line("-- the run failed; its stored error:")
            for line in str(run["error"]).rstrip().splitlines():
                log.write_lines(wrapped(line, width))

    # ------------------------------------------------------------ actions
    # ------------------------------------------------------------ the curves' view
    def action_next_smoothing(self) -> None:
        """Step the curves' smoothing 0 -> 0.6 -> 0.9 -> 0 (TensorBoard's debiased EMA)."""
        self.smoothing = next_smoothing(self.smoothing)
        self._message("")
        self._draw_curves()

    def action_zoom(self, direction: int) -> None:
        """Zoom the epoch axis in (``direction`` 1: half as many epochs) or out (-1)."""
        full = self._epoch_extent()
        if full is None:
            self._message("no epochs to zoom into yet")
            return
        self.window = self.window.zoomed_in(full) if direction > 0 else self.window.zoomed_out(full)
        self._message("")
        self._draw_curves()

    def action_pan(self, direction: int) -> None:
        """Move the zoomed epoch window left (-1) or right (1)."""
        full = self._epoch_extent()
        if full is None or self.window.whole:
            self._message("zoom in first (+), then [ and ] move along the epochs")
            return
        self.window = self.window.panned(direction, full)
        self._message("")
        self._draw_curves()

    def action_all_epochs(self) -> None:
        self.window = XWindow()
        self._message("")
        self._draw_curves()

    def action_toggle_pin(self) -> None:
        """Pin the highlighted run (its curves stay overlaid while other runs are selected) or unpin it."""
        run_id = self.app.selected_run
        if run_id is None:
            return
        if run_id in self.pinned:
            self.pinned.remove(run_id)
            self._message(f"run {run_id} unpinned")
        else:
            self.pinned.append(run_id)
            self._message(f"run {run_id} pinned: its curves stay on the charts (space again unpins)")
        self.poll()

    # ------------------------------------------------------------ actions
    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "runs-table" and event.row_key.value:
            self.select_run(int(event.row_key.value))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The user moved the cursor: show that run (refills never emit this, see ``_fill_runs``)."""
        table = event.data_table
        if table.id != "runs-table" or event.row_key is None or not event.row_key.value:
            return
        if event.cursor_row != table.cursor_row:
            return  # stale: the cursor has moved on since
        self.select_run(int(event.row_key.value))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        {"cancel": self.action_cancel_run, "resume": self.action_resume_run,
         "metric": self.action_next_metric}[event.button.id]()

    def _message(self, text: str) -> None:
        self.query_one("#run-message", Label).update(text)

    def action_next_metric(self) -> None:
        """Choose the validation metric of the curve from a list (the run's monitored metric by default)."""
        from workbench.tui.widgets.pick import Pick

        names = metric_names(getattr(self, "_epoch_rows", []))
        if not names:
            self._message("no validation metrics yet")
            return

        def done(name: str | None) -> None:
            if name:
                self._metric = name
                self._draw_curves()
        monitored = getattr(self, "_monitor_metric", None)
        self.app.push_screen(Pick("Validation metric to plot:",
                                  [(n, n + ("  (monitored)" if n == monitored else "")) for n in names],
                                  getattr(self, "shown_metric", None)), done)

    def action_cancel_run(self) -> None:
        from workbench.jobs.queue import JobError, latest_job_for_run, request_cancel

        run_id = self.app.selected_run
        if run_id is None:
            return
        job = latest_job_for_run(self.ws, run_id)
        if job is None or job.status not in ("queued", "running"):
            self._message(f"run {run_id} has no active background job to cancel")
            return
        try:
            status = request_cancel(self.ws, job.id)
        except JobError as e:
            self._message(str(e))
            return
        self._message(f"run {run_id}: cancelled" if status == "cancelled" else
                      f"run {run_id}: stopping after the current step (checkpoint kept)")
        self.poll()

    def action_resume_run(self) -> None:
        from workbench.jobs.launcher import resume_run
        from workbench.jobs.queue import JobError

        run_id = self.app.selected_run
        if run_id is None:
            return
        try:
            job_id = resume_run(self.ws, run_id)
        except JobError as e:
            self._message(str(e))
            return
        self._message(f"run {run_id} resumes from its last checkpoint as job {job_id}")
        self._row_keys = None
        self.poll()
