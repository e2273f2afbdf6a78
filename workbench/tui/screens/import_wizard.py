"""Dataset import wizard: path, detected format, reader options (column mapping), preview, preprocessing, import.

Parsing and importing run in thread workers; errors (file, line, field) are
shown in place and leave the workspace untouched (the importer writes in one
transaction). Dismisses with the imported dataset's name, or None.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from workbench.options import ConfigError, describe
from workbench.tui.widgets.options_form import OptionsForm
from workbench.tui.widgets.tables import fill_table

PREVIEW_ROWS = 12
MAX_SHOWN_ERRORS = 50
MAX_LINE_CHARS = 300  # a long offending value must not become a huge message


def error_lines(error: BaseException) -> list[str]:
    """Every problem an import error reports, one line each (cut to ``MAX_LINE_CHARS``): the error's own
    ``errors`` list when it carries one (file, line, field of each bad line), else its message."""
    items = getattr(error, "errors", None)
    lines = [str(i) for i in items][:MAX_SHOWN_ERRORS] if isinstance(items, (list, tuple)) and items else [str(error)]
    return [line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS - 3] + "..." for line in lines]


class ImportWizard(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "close", "Close")]
    AUTO_FOCUS = "#wiz-path"  # type the path first
    DEFAULT_CSS = """
    ImportWizard { align: center middle; }
    ImportWizard > VerticalScroll { width: 98%; height: 98%; border: thick $accent; background: $surface;
                                    padding: 0 1; }
    ImportWizard .field { height: auto; }
    ImportWizard .field-name { width: 12; }
    ImportWizard Input, ImportWizard Select { width: 1fr; }
    ImportWizard #preview { height: auto; max-height: 16; }
    ImportWizard #wiz-status { height: auto; }
    ImportWizard #wiz-errors { height: auto; max-height: 10; border: round $error; display: none; }
    ImportWizard #wiz-errors.shown { display: block; }
    ImportWizard #wiz-errors Static { width: 100%; height: auto; }
    """

    def __init__(self, path: str = ""):
        super().__init__()
        self.path_text = path
        self.fmt: str | None = None
        self.raw = None
        self.raw_key: tuple | None = None

    def _reader_specs(self) -> dict:
        from workbench.plugins import get_registry

        return get_registry().specs["reader"]

    def compose(self) -> ComposeResult:
        specs = self._reader_specs()
        with VerticalScroll():
            yield Label("Import a dataset", classes="title")
            with Horizontal(classes="field"):
                yield Label("path", classes="field-name")
                yield Input(self.path_text, placeholder="file or folder, e.g. ../data/ml-100k", id="wiz-path", compact=True)
                yield Button("Detect", id="detect", compact=True)
            with Horizontal(classes="field"):
                yield Label("format", classes="field-name")
                yield Select([(n, n) for n in sorted(specs)], value=self.fmt if self.fmt in specs else Select.NULL,
                             id="wiz-format", prompt="detect or choose", compact=True)
            yield Label("reader options (column mapping and parsing)", classes="hint")
            yield VerticalScroll(id="reader-options", classes="field")
            with Horizontal(classes="buttons"):
                yield Button("Preview", id="preview-btn", variant="primary", compact=True)
            yield Label("", id="wiz-status")
            with VerticalScroll(id="wiz-errors"):
                yield Static("", id="wiz-error-list", markup=False)
            yield DataTable(id="preview", zebra_stripes=True)
            yield Label("preprocessing", classes="hint")
            from workbench.data.preprocess import PreprocessOptions

            yield OptionsForm("preprocess", describe(PreprocessOptions), id="preprocess-form")
            with Horizontal(classes="field"):
                yield Label("name", classes="field-name")
                yield Input("", placeholder="dataset name (default: from the path)", id="wiz-name", compact=True)
            with Horizontal(classes="buttons"):
                yield Button("Import", id="import-btn", variant="success", compact=True)
                yield Button("Replace existing", id="replace-btn", variant="warning", compact=True, disabled=True)
                yield Button("Close", id="close-btn", compact=True)

    # ------------------------------------------------------------ helpers
    def _status(self, text: str, error: bool = False) -> None:
        from rich.markup import escape

        text = text if len(text) <= MAX_LINE_CHARS else text[:MAX_LINE_CHARS - 3] + "..."
        self.query_one("#wiz-status", Label).update(f"[red]{escape(text)}[/red]" if error else escape(text))
        if not error:
            self.query_one("#wiz-errors").remove_class("shown")

    def _failed(self, error: BaseException, prefix: str = "") -> None:
        """Say why in the status line; every bad line the error reports goes in the scrollable panel."""
        from workbench.data.importer import DatasetExists

        lines = error_lines(error)
        total = len(getattr(error, "errors", None) or []) or 1
        head = lines[0] if len(lines) == 1 else f"{total} problems; the first {len(lines)} are listed below"
        self._status(prefix + head, error=True)
        panel = self.query_one("#wiz-errors")
        panel.set_class(len(lines) > 1, "shown")
        self.query_one("#wiz-error-list", Static).update("\n".join(lines))
        exists = isinstance(error, DatasetExists)
        self.query_one("#replace-btn", Button).disabled = not exists
        if exists:
            self._status(prefix + head + " - press Replace existing to overwrite it", error=True)

    def _path(self) -> Path | None:
        text = self.query_one("#wiz-path", Input).value.strip()
        return Path(text).expanduser() if text else None

    async def _show_reader_options(self, fmt: str) -> None:
        box = self.query_one("#reader-options")
        await box.remove_children()
        spec = self._reader_specs().get(fmt)
        if spec is not None:
            await box.mount(OptionsForm(f"reader.{fmt}", describe(spec.options), id="reader-form"))

    def _reader_values(self) -> dict[str, Any]:
        forms = self.query("#reader-form")
        return forms.first(OptionsForm).values() if forms else {}

    # ------------------------------------------------------------ events
    async def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "wiz-format" and event.value is not Select.NULL and event.value != self.fmt:
            self.fmt = event.value
            await self._show_reader_options(self.fmt)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "wiz-path":
            self.detect()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        {"detect": self.detect, "preview-btn": self.preview, "import-btn": self.do_import,
         "replace-btn": lambda: self.do_import(replace=True), "close-btn": self.action_close}[event.button.id]()

    def action_close(self) -> None:
        self.dismiss(None)

    # ------------------------------------------------------------ detect
    def detect(self) -> None:
        path = self._path()
        if path is None:
            self._status("enter the path of a file or folder", error=True)
            return
        self._status(f"detecting the format of {path}...")
        self._detect(path)

    @work(thread=True, exclusive=True, group="wizard")
    def _detect(self, path: Path) -> None:
        from workbench.data.formats import detect_format

        try:
            fmt = detect_format(path)
        except Exception as e:  # noqa: BLE001 - ReaderError names the file
            self.app.call_from_thread(self._status, str(e), True)
            return
        self.app.call_from_thread(self._detected, fmt)

    def _detected(self, fmt: str) -> None:
        self.query_one("#wiz-format", Select).value = fmt
        self._status(f"detected format: {fmt}; check the reader options, then Preview")

    # ------------------------------------------------------------ preview
    def preview(self) -> None:
        request = self._request()
        if request is None:
            return
        self._status("parsing...")
        self._parse(*request, then_import=None)

    def _request(self) -> tuple[Path, str, dict[str, Any]] | None:
        path = self._path()
        fmt = self.query_one("#wiz-format", Select).value
        if path is None or fmt is Select.NULL:
            self._status("choose a path and a format first (Detect finds the format)", error=True)
            return None
        try:
            return path, fmt, self._reader_values()
        except ConfigError as e:
            self._status(str(e), error=True)
            return None

    @work(thread=True, exclusive=True, group="wizard")
    def _parse(self, path: Path, fmt: str, options: dict[str, Any], then_import: dict | None) -> None:
        from workbench.data.importer import read_path

        key = (str(path), fmt, repr(sorted(options.items())))
        if self.raw is None or self.raw_key != key:
            try:
                _, raw, _ = read_path(path, fmt, options)
            except Exception as e:  # noqa: BLE001 - ReaderError/ConfigError name file, line, field
                self.app.call_from_thread(self._failed, e)
                return
            self.raw, self.raw_key = raw, key
        self.app.call_from_thread(self._show_preview, self.raw)
        if then_import is not None:
            self._write(path, fmt, options, then_import)

    def _show_preview(self, raw) -> None:
        cols = ["user", "item"] + [c for c, v in (("time", raw.timestamps), ("action", raw.actions),
                                                   ("value", raw.values)) if v is not None] + ["title"]
        rows = []
        for i in range(min(PREVIEW_ROWS, len(raw.users))):
            row = [raw.users[i], raw.items[i]]
            if raw.timestamps is not None:
                row.append(f"{raw.timestamps[i]:.0f}")
            if raw.actions is not None:
                row.append(str(raw.actions[i]))
            if raw.values is not None:
                row.append(f"{raw.values[i]:g}")
            row.append(str((raw.item_info.get(raw.items[i]) or {}).get("title", ""))[:30])
            rows.append((None, row))
        fill_table(self.query_one("#preview", DataTable), cols, rows)
        self._status(f"parsed {len(raw.users):,} interactions, {len(set(raw.users)):,} users, "
                     f"{len(set(raw.items)):,} items; first {min(PREVIEW_ROWS, len(raw.users))} rows below")

    # ------------------------------------------------------------ import
    def do_import(self, replace: bool = False) -> None:
        request = self._request()
        if request is None:
            return
        try:
            pre = self.query_one("#preprocess-form", OptionsForm).values()
        except ConfigError as e:
            self._status(str(e), error=True)
            return
        from workbench.data.importer import default_name

        name = self.query_one("#wiz-name", Input).value.strip() or default_name(request[0])
        self._status(f"importing {name}...")
        self._parse(*request, then_import={"name": name, "preprocess": pre, "replace": replace})

    def _write(self, path: Path, fmt: str, options: dict[str, Any], job: dict) -> None:
        """In the parse thread: preprocess and write in one transaction on a separate connection."""
        from workbench.data.importer import import_raw
        from workbench.store import open_workspace

        ws = open_workspace(self.app.ws_path)
        try:
            summary = import_raw(ws, self.raw, name=job["name"], fmt=fmt, preprocess_opts=job["preprocess"],
                                 extra_options={"reader": options} if options else None,
                                 replace=job.get("replace", False))
        except Exception as e:  # noqa: BLE001 - nothing was written; say why
            self.app.call_from_thread(self._failed, e, "not imported: ")
            return
        finally:
            ws.close()
        self.app.call_from_thread(self.dismiss, summary.name)
