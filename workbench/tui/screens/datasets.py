"""Datasets: the workspace's datasets, their statistics and plots, import wizard, item features from files
(audio / image, for the precomputed view) and delete."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Label, TabbedContent, TabPane

from workbench.store import datasets
from workbench.tui.screens.base import WorkbenchScreen
from workbench.tui.widgets.bars import BarPlot
from workbench.tui.widgets.confirm import Confirm
from workbench.tui.widgets.tables import fill_table


class DatasetsScreen(WorkbenchScreen):
    MODE = "datasets"
    BINDINGS = [Binding("n", "import_dataset", "Import"), Binding("f", "extract_features", "Item features"),
                Binding("delete", "delete", "Delete")]

    def compose_body(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="ds-left"):
                yield Label("Datasets", classes="title")
                yield DataTable(id="ds-table", cursor_type="row", zebra_stripes=True)
                with Horizontal(classes="buttons"):
                    yield Button("Import (n)", id="import_dataset", variant="primary", compact=True)
                    yield Button("Features (f)", id="extract_features", compact=True)
                    yield Button("Delete", id="delete", variant="error", compact=True)
            with Vertical(id="ds-right"):
                yield Label("import a dataset with n (or the button)", id="ds-summary")
                with TabbedContent(id="ds-tabs"):
                    with TabPane("Lengths", id="tab-lengths"):
                        yield BarPlot("events per user", id="plot-lengths")
                    with TabPane("Popularity", id="tab-popularity"):
                        yield BarPlot("interactions per item (rank, log)", id="plot-popularity")
                    with TabPane("Activity", id="tab-activity"):
                        yield BarPlot("interactions over time", id="plot-activity")
                yield Label("", id="ds-message", classes="hint")

    def on_mount(self) -> None:
        self.rows: list[dict] = []
        self.shown: int | None = None

    def reload(self) -> None:
        self.rows = datasets.summaries(self.ws)
        fill_table(self.query_one("#ds-table", DataTable), ["name", "users", "items", "events"],
                   [(str(d["id"]), [d["name"][:16], f"{d['n_users']:,}", f"{d['n_items']:,}",
                                    f"{d['n_interactions']:,}"]) for d in self.rows])
        if self.rows:
            keep = self.shown if self.shown in {d["id"] for d in self.rows} else None
            self.show_stats(keep or self.rows[0]["id"])
        else:
            self.shown = None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None and event.row_key.value:
            self.show_stats(int(event.row_key.value))

    def show_stats(self, dataset_id: int) -> None:
        """Statistics of the dataset (computed in a thread; kept while its rows are unchanged)."""
        row = next((d for d in self.rows if d["id"] == dataset_id), None)
        version = (dataset_id, row and row["created_at"], row and row["n_interactions"])
        if dataset_id == self.shown and version == getattr(self, "_stats_version", None):
            return  # shown, or being computed
        self.shown, self._stats_version = dataset_id, version
        self.stats = None
        self.query_one("#ds-summary", Label).update("computing statistics...")
        self._compute(dataset_id)

    @work(thread=True, exclusive=True, group="stats")
    def _compute(self, dataset_id: int) -> None:
        from workbench.store import open_workspace
        from workbench.data.stats import distributions

        ws = open_workspace(self.app.ws_path)
        try:
            stats = distributions(ws, dataset_id)
        except Exception as e:  # noqa: BLE001
            self.app.call_from_thread(self.query_one("#ds-message", Label).update, f"[red]{e}[/red]")
            return
        finally:
            ws.close()
        self.app.call_from_thread(self._show, dataset_id, stats)

    def _show(self, dataset_id: int, s: dict) -> None:
        if dataset_id != self.shown:
            return
        self.stats = s
        self.query_one("#ds-summary", Label).update(
            f"[b]{s['name']}[/b] ({s['format']})  {s['users']:,} users  {s['items']:,} items  "
            f"{s['interactions']:,} events  density {s['density']:.4%}\n"
            f"events/user mean {s['length_mean']:.1f} median {s['length_median']:.0f} max {s['length_max']}  "
            f"top 10% items get {s['top10pct_share']:.0%} of events"
            + ("" if s["has_timestamps"] else "  (no timestamps: order only)"))
        self.query_one("#plot-lengths", BarPlot).show_bars(*s["length_hist"], xlabel="events per user",
                                                           ylabel="users")
        self.query_one("#plot-popularity", BarPlot).show_bars(*s["popularity"], xlabel="item rank",
                                                              ylabel="events", log_y=True, line=True)
        if s["activity"][0]:
            self.query_one("#plot-activity", BarPlot).show_bars(*s["activity"], xlabel="date", ylabel="events")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        getattr(self, f"action_{event.button.id}")()

    def action_import_dataset(self) -> None:
        from workbench.tui.screens.import_wizard import ImportWizard

        def done(name: str | None) -> None:
            self.shown = None
            self.reload()
            if name:
                self.query_one("#ds-message", Label).update(f"imported {name}")
        self.app.push_screen(ImportWizard(), done)

    def action_extract_features(self) -> None:
        """Vectors for the precomputed view from a folder of audio / image files named by the highlighted
        dataset's raw item ids (the same step as ``workbench data features``)."""
        table = self.query_one("#ds-table", DataTable)
        if not self.rows:
            self.query_one("#ds-message", Label).update("import a dataset first (n)")
            return
        did = int(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        name = next(d for d in self.rows if d["id"] == did)["name"]
        from workbench.tui.widgets.features_dialog import FeaturesDialog

        def done(values: dict | None) -> None:
            if values:
                self.query_one("#ds-message", Label).update(f"extracting {values['kind']} features...")
                self._extract(name, values)
        self.app.push_screen(FeaturesDialog(name, str(self.ws.files_dir / "features" / name)), done)

    @work(thread=True, exclusive=True, group="features")
    def _extract(self, dataset: str, v: dict) -> None:
        from rich.markup import escape

        from workbench.data.audio_features import AudioOptions
        from workbench.data.extract_features import extract_features
        from workbench.data.image_features import ImageOptions
        from workbench.store import open_workspace
        from workbench.store.catalogue import item_catalogue

        say = lambda text: self.app.call_from_thread(self.query_one("#ds-message", Label).update, text)  # noqa: E731
        try:
            ws = open_workspace(self.app.ws_path)
            try:
                raw_ids, _ = item_catalogue(ws, dataset)
            finally:
                ws.close()
            r = extract_features(v["kind"], v["source"], v["out"], raw_ids=raw_ids, dataset=dataset,
                                 audio=AudioOptions(), image=ImageOptions(model=v["model"], arch=v["arch"]),
                                 progress=lambda k, n: say(f"extracting {v['kind']} features: {k:,} of {n:,} files"))
        except Exception as e:  # noqa: BLE001 - shown in place; nothing was written
            say(f"[red]item features not extracted: {escape(str(e))}[/red]")
            return
        c = r["coverage"]
        say(f"wrote {r['items']:,} {r['kind']} vectors ({r['dim']} numbers): {c['with_vector']:,} of {c['items']:,} "
            f"items of {dataset} have one. Use them in a precomputed view: path {escape(r['path'])}, "
            f"ids_path {escape(r['ids_path'])}")

    def action_delete(self) -> None:
        table = self.query_one("#ds-table", DataTable)
        if not self.rows:
            return
        did = int(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        row = next(d for d in self.rows if d["id"] == did)
        name = row["name"]
        from workbench.store.runs import using_dataset

        dependent = using_dataset(self.ws, did)
        busy = [r["id"] for r in dependent if r["status"] in ("queued", "running")]
        if busy:
            self.query_one("#ds-message", Label).update(
                f"[red]cannot delete {name}: run(s) {', '.join(map(str, busy))} are queued or training on it; "
                f"cancel them first (Runs, x)[/red]")
            return
        runs = len(dependent)
        def done(yes: bool) -> None:
            if not yes:
                return
            from workbench.data.importer import remove_dataset
            from workbench.store.datasets import DatasetInUse

            try:
                remove_dataset(self.ws, name, force=True)  # the dialog said what happens to its runs
            except DatasetInUse as e:  # runs were trained on it: `workbench data rm --force` removes it anyway
                self.query_one("#ds-message", Label).update(f"[red]{e}[/red]")
                return
            self.query_one("#ds-message", Label).update(f"deleted {name}")
            self.shown = None
            self.reload()
        if runs:
            what = (f"{runs} run{'s' if runs != 1 else ''} trained on it keep their metrics, curves and logs "
                    f"(listed with the dataset \"{name} (deleted)\"), but cannot be resumed or inspected any more.")
        else:
            what = "No run was trained on it."
        self.app.push_screen(Confirm(f"Delete dataset {name} ({row['n_interactions']:,} events)? {what}",
                                     "Delete"), done)
