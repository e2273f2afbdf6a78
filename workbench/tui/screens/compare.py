"""Compare runs: a table sortable by any metric, marked runs' validation curves overlaid, CSV/Markdown export,
and a paired significance test of the marked runs (t). ``g`` switches to seeds groups: each metric's mean
+- 95% CI half-width, the marked groups' mean, sd and CI, and the paired test of marked groups.

Like MLflow's compare view: one metric set for every row, the test metrics or the validation metrics at each
run's best epoch (``v`` switches, the line above the table says which); ``s`` picks the sort column from a
list, ``-`` reverses it; timing and user-count columns (``h``) and failed runs (``f``) are hidden until asked for.
"""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Label

from workbench import comparison
from workbench.store import runs
from workbench.tui.screens.base import WorkbenchScreen
from workbench.tui.widgets.curves import CurvePlot
from workbench.tui.group_text import half_width, metric_summary
from workbench.tui.widgets.significance import SignificancePanel, metric_for, significance_text
from workbench.tui.widgets.tables import fill_table

FIXED = ["id", "name", "status", "dataset"]
TEXT_COLUMNS = ("name", "status", "dataset", "views", "fusion", "head")  # sorted A-Z first, numbers high first


class CompareScreen(WorkbenchScreen):
    MODE = "compare"
    BINDINGS = [
        Binding("space", "toggle_mark", "Mark"),
        Binding("s", "pick_sort", "Sort by"),
        Binding("o", "export('csv')", "CSV"),
        Binding("k", "export('md')", "Markdown"),
        Binding("t", "test_marked", "Test"),
        Binding("slash", "filter", "Filter"),
        Binding("minus", "reverse_sort", "Reverse"),
        Binding("f", "toggle_failed", "Failed"),
        Binding("g", "toggle_groups", "Groups"),
        Binding("v", "toggle_metric_set", "Test/Val"),
        Binding("h", "toggle_timings", "Timings"),
    ]

    def compose_body(self) -> ComposeResult:
        with Vertical():
            yield Label("", id="compare-set")
            yield Label("Compare runs: s picks the sort column (or click a header), - reverses, / filters, "
                        "f failed runs, h timings, space marks runs to overlay, t tests them, g seeds groups",
                        classes="hint", id="compare-hint")
            yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
            with Horizontal(classes="buttons"):
                yield Button("Export CSV (o)", id="csv", compact=True)
                yield Button("Export Markdown (k)", id="md", compact=True)
                yield Label("", id="compare-message")
            group_line = Label("", id="group-summary", classes="hint")
            group_line.display = False  # shown with a group
            yield group_line
            yield SignificancePanel("", id="significance")
            yield CurvePlot("marked runs", id="overlay")

    def on_mount(self) -> None:
        self.sort_key = "id"
        self.descending = True
        self.marked: set[int] = set()
        self.rows: list[dict] = []
        self.filter_text = ""
        self.show_failed = False  # failed runs are hidden until f
        self.groups = False  # g: seeds groups instead of runs
        self.metric_set = "test"  # or "val": the validation metrics at each run's best epoch (v)
        self.show_timings = False  # timing and user-count columns are hidden until h

    def reload(self) -> None:
        self.rows = comparison.group_rows(self.ws) if self.groups else \
            comparison.compare_rows(self.ws, self.metric_set)
        self.marked &= {r["id"] for r in self.rows}
        self._fill()

    @property
    def metric_columns(self) -> list[str]:
        return comparison.metric_columns(self.shown_rows, auxiliary=self.show_timings)

    @property
    def columns(self) -> list[str]:
        """The table's columns: the run, its metrics (visible without scrolling), then its hyperparameters."""
        return FIXED + self.metric_columns + list(comparison.PARAM_COLUMNS)

    @property
    def shown_rows(self) -> list[dict]:
        """The rows after the filter and the failed-runs toggle, in the current sort order."""
        rows = [r for r in self.rows if (self.show_failed or r["status"] != "failed")
                and comparison.matches(r, self.filter_text)]
        return comparison.sort_rows(rows, self.sort_key, self.descending)

    def _fill(self) -> None:
        table = self.query_one("#compare-table", DataTable)
        shown = self.shown_rows
        metrics = self.metric_columns
        cols = [(c, c + ((" v" if self.descending else " ^") if c == self.sort_key else ""))
                for c in FIXED + metrics + list(comparison.PARAM_COLUMNS)]
        rows = [(str(r["id"]), [("* " if r["id"] in self.marked else "") + r.get("ref", str(r["id"])), r["name"][:20],
                                r["status"], r["dataset"], *[self._metric_cell(r, m) for m in metrics],
                                *[comparison.cell(r["params"].get(p)) for p in comparison.PARAM_COLUMNS]])
                for r in shown]
        fill_table(table, cols, rows)
        hidden = len(self.rows) - len(shown)
        notes = []
        if self.filter_text:
            notes.append(f"filter {self.filter_text!r}")
        failed = sum(r["status"] == "failed" for r in self.rows)
        if failed and not self.show_failed:
            notes.append(f"{failed} failed hidden (f shows them)")
        if not self.show_timings:
            timings = len(comparison.metric_columns(shown)) - len(metrics)
            if timings:
                notes.append(f"{timings} timing columns hidden (h)")
        if self.groups:
            which, hint = "test set, mean over each group's completed runs", "(g: runs)"
        else:
            which = comparison.METRIC_SETS[self.metric_set]
            hint = f"(v shows the {'validation' if self.metric_set == 'test' else 'test'} metrics)"
        self.query_one("#compare-set", Label).update(f"[b]metrics: {which}[/b]  {hint}")
        what = "seeds groups (mean +- 95% CI half-width; g: runs)" if self.groups else "runs"
        self.query_one("#compare-message", Label).update(
            f"{len(shown)} of {len(self.rows)} {what}" + (f"; {', '.join(notes)}" if hidden or notes else ""))
        self._show_group_summary()
        self._draw_overlay()

    def _metric_cell(self, row: dict, metric: str) -> str:
        value = comparison.cell(row["metrics"].get(metric))
        s = (row.get("summary") or {}).get(metric)
        half = half_width(s) if s else None
        return f"{value} +-{half:.4f}" if half is not None else value

    def _show_group_summary(self) -> None:
        """Groups: the marked groups' mean, sd and 95% CI of the sorted-by metric (NDCG@10 by default)."""
        label = self.query_one("#group-summary", Label)
        metric = metric_for(self.sort_key)
        lines = [f"{r['ref']} {r['name']}: {metric_summary(metric, r['summary'][metric])}"
                 for r in self.rows if self.groups and r["id"] in self.marked and metric in r["summary"]]
        label.update(escape("\n".join(lines)))
        label.display = bool(lines)

    def action_toggle_groups(self) -> None:
        """Runs <-> seeds groups (marks are cleared: a run id is not a group id)."""
        self.groups = not self.groups
        self.marked = set()
        self.query_one("#significance", SignificancePanel).update("")
        self.reload()

    def _draw_overlay(self) -> None:
        metric = self.sort_key if self.sort_key not in FIXED else None
        series = {}
        for run_id in sorted(self.marked) if not self.groups else ():
            ems = runs.epochs(self.ws, run_id)
            names = comparison.metric_names(ems)
            name = metric.removeprefix("val:") if metric and metric.removeprefix("val:") in names else \
                (names[0] if names else None)
            if name is None:
                continue
            pts = [(e["epoch"], e["metrics"][name]) for e in ems if name in e["metrics"]]
            run_name = next((r["name"] for r in self.rows if r["id"] == run_id), "")
            series[f"{run_id} {run_name} {name}"] = ([x for x, _ in pts], [y for _, y in pts])
        self.query_one("#overlay", CurvePlot).set_series(series, title="validation curves of marked runs")

    def sort_by(self, key: str) -> None:
        if key == self.sort_key:
            self.descending = not self.descending
        else:
            self.sort_key, self.descending = key, key not in TEXT_COLUMNS
        self._fill()

    def action_reverse_sort(self) -> None:
        self.descending = not self.descending
        self._fill()

    def action_toggle_failed(self) -> None:
        self.show_failed = not self.show_failed
        self._fill()

    def action_filter(self) -> None:
        from workbench.tui.widgets.ask import Ask

        def done(text: str | None) -> None:
            self.filter_text = (text or "").strip()
            self._fill()
        self.app.push_screen(Ask("Show runs whose name, dataset, status or views contain (empty: all):",
                                 self.filter_text), done)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        self.sort_by(str(event.column_key.value))

    def action_pick_sort(self) -> None:
        """Choose the sort column from a list of every column shown, metrics first (the current one highlighted)."""
        from workbench.tui.widgets.pick import Pick

        def done(column: str | None) -> None:
            if column:
                self.sort_key, self.descending = column, column not in TEXT_COLUMNS
                self._fill()
        self.app.push_screen(Pick("Sort by (numbers high first, text A-Z; - reverses):",
                                  [(c, c) for c in self.metric_columns + FIXED + list(comparison.PARAM_COLUMNS)],
                                  self.sort_key), done)

    def action_toggle_metric_set(self) -> None:
        """Show the test metrics, or the validation metrics at each run's best epoch, for every run."""
        if self.groups:
            self.query_one("#compare-message", Label).update("seeds groups summarise test metrics (g: runs)")
            return
        self.metric_set = "val" if self.metric_set == "test" else "test"
        if self.sort_key not in FIXED and self.sort_key not in comparison.PARAM_COLUMNS:
            self.sort_key = comparison.switched_metric(self.sort_key, self.metric_set)
        self.rows = comparison.with_metric_set(self.rows, self.metric_set)
        self._fill()

    def action_toggle_timings(self) -> None:
        self.show_timings = not self.show_timings
        self._fill()

    def action_toggle_mark(self) -> None:
        table = self.query_one("#compare-table", DataTable)
        if not self.rows:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        run_id = int(key)
        self.marked ^= {run_id}
        self._fill()

    def action_test_marked(self) -> None:
        """Paired test of the marked runs on the sorted-by metric (a thread: bootstraps take a moment)."""
        panel = self.query_one("#significance", SignificancePanel)
        metric, ids = metric_for(self.sort_key), sorted(self.marked)
        what = "groups" if self.groups else "runs"
        panel.update(f"testing {metric} for {what} {', '.join(map(str, ids))} ..." if len(ids) > 1 else "")
        groups = self.groups

        def work() -> None:
            text = significance_text(self.app.ws_path, ids, metric, groups=groups)
            self.app.call_from_thread(panel.update, text)

        self.run_worker(work, thread=True, exclusive=True, group="significance")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_export(event.button.id)

    def action_export(self, fmt: str) -> None:
        from workbench.tui.widgets.ask import Ask

        suffix = "csv" if fmt == "csv" else "md"
        what = "groups" if self.groups else "runs"  # a group's row has its metrics' sd, 95% CI and n
        default = str(self.ws.files_dir / f"{self.app.ws_path.stem}-{what}.{suffix}")

        def write(path: str | None) -> None:
            if not path:
                return
            rows = comparison.sort_rows(self.rows, self.sort_key, self.descending)
            text = comparison.to_csv(rows) if fmt == "csv" else comparison.to_markdown(rows)
            try:
                target = Path(path).expanduser()
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
            except OSError as e:
                self.query_one("#compare-message", Label).update(f"[red]cannot write {path}: {e}[/red]")
                return
            self.query_one("#compare-message", Label).update(f"wrote {len(rows)} {what} to {path}")

        self.app.push_screen(Ask(f"Export {len(self.rows)} {what} as {suffix.upper()} to:", default), write)
