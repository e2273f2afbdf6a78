"""Workspaces: list, create, open, duplicate, export, delete (with confirmation)."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Label

from workbench.tui import ws_files
from workbench.tui.screens.base import WorkbenchScreen
from workbench.tui.widgets.ask import Ask
from workbench.tui.widgets.confirm import Confirm
from workbench.tui.widgets.tables import fill_table


class WorkspacesScreen(WorkbenchScreen):
    MODE = "workspaces"
    BINDINGS = [Binding("n", "new", "New"), Binding("o", "open", "Open"), Binding("u", "duplicate", "Duplicate"),
                Binding("x", "export", "Export"), Binding("delete", "delete", "Delete")]

    def compose_body(self) -> ComposeResult:
        with Vertical():
            yield Label("Workspaces (one SQLite file each)", classes="title")
            yield DataTable(id="ws-table", cursor_type="row", zebra_stripes=True)
            with Horizontal(classes="buttons"):
                yield Button("New (n)", id="new", variant="primary", compact=True)
                yield Button("Open (o)", id="open", compact=True)
                yield Button("Duplicate (u)", id="duplicate", compact=True)
                yield Button("Export (x)", id="export", compact=True)
                yield Button("Delete (del)", id="delete", variant="error", compact=True)
            yield Label("", id="ws-message", classes="hint")

    def on_mount(self) -> None:
        self.items: list[dict] = []

    def reload(self) -> None:
        self.items = ws_files.list_workspaces(self.app.ws_path)
        rows = []
        for w in self.items:
            here = "*" if Path(w["path"]) == self.app.ws_path else ""
            rows.append((str(w["path"]), [here, w["name"], str(w["datasets"] if w["datasets"] is not None else "?"),
                                          str(w["runs"] if w["runs"] is not None else "?"), f"{w['size_mb']:.1f} MB",
                                          str(w["path"])]))
        fill_table(self.query_one("#ws-table", DataTable), [" ", "name", "datasets", "runs", "size", "path"], rows,
                   max_width=60)

    def _selected(self) -> Path | None:
        table = self.query_one("#ws-table", DataTable)
        if not self.items:
            return None
        return Path(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def _say(self, text: str) -> None:
        self.query_one("#ws-message", Label).update(text)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        getattr(self, f"action_{event.button.id}")()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_new(self) -> None:
        def done(name: str | None) -> None:
            if not name:
                return
            try:
                path = ws_files.create(name)
            except (ws_files.WorkspaceFileError, OSError) as e:
                self._say(f"[red]{e}[/red]")
                return
            self.app.open_workspace_path(path)
            self._say(f"created and opened {path}")
            self.reload()
        self.app.push_screen(Ask("New workspace name (or path ending in .db):"), done)

    def action_open(self) -> None:
        path = self._selected()
        if path is None or path == self.app.ws_path:
            return
        try:
            self.app.open_workspace_path(path)
        except Exception as e:  # noqa: BLE001 - a corrupt or newer workspace: say so, keep the current one
            self._say(f"[red]{e}[/red]")
            return
        self._say(f"opened {path}")
        self.reload()

    def action_duplicate(self) -> None:
        src = self._selected()
        if src is None:
            return

        def done(name: str | None) -> None:
            if not name:
                return
            try:
                dest = ws_files.copy(src, name)
            except Exception as e:  # noqa: BLE001 - shown in place
                self._say(f"[red]{e}[/red]")
                return
            self._say(f"duplicated {src.stem} to {dest}")
            self.reload()
        self.app.push_screen(Ask(f"Name of the copy of {src.stem}:", f"{src.stem}-copy"), done)

    def action_export(self) -> None:
        src = self._selected()
        if src is None:
            return

        def done(target: str | None) -> None:
            if not target:
                return
            target = target if target.endswith(".db") or "/" in target else target + ".db"
            try:
                dest = ws_files.copy(src, str(Path(target).expanduser().resolve()))
            except Exception as e:  # noqa: BLE001
                self._say(f"[red]{e}[/red]")
                return
            self._say(f"exported {src.stem} to {dest}")
        self.app.push_screen(Ask(f"Export {src.stem} to file:", str(self.ws.files_dir / f"{src.stem}-export.db")), done)

    def action_delete(self) -> None:
        path = self._selected()
        if path is None:
            return
        if path == self.app.ws_path:
            self._say("[red]cannot delete the workspace that is open; open another one first[/red]")
            return

        def done(yes: bool) -> None:
            if not yes:
                return
            try:
                ws_files.delete(path, self.app.ws_path)
            except (ws_files.WorkspaceFileError, OSError) as e:
                self._say(f"[red]{e}[/red]")
                return
            self._say(f"deleted {path}")
            self.reload()
        self.app.push_screen(Confirm(f"Delete workspace {path.stem} ({path})? Its datasets and runs are lost.",
                                     "Delete"), done)
