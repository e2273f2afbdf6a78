"""Plugins: installed plugins by kind with package, version and load errors; install/uninstall with pip.

Install and uninstall run ``workbench plugins install|uninstall`` in a
subprocess (the same torch-safe pip constraints as the CLI) and stream its
output into the log line by line. The registry is re-read afterwards in a
fresh process-independent way: the list shows what a new ``workbench`` would load.
"""

from __future__ import annotations

import subprocess
import sys

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Input, Label, Log

from workbench.tui.screens.base import WorkbenchScreen
from workbench.tui.widgets.confirm import Confirm
from workbench.tui.widgets.tables import fill_table

CLI = "from workbench.cli import main; main()"


_ROWS: tuple[list[dict], list[dict]] | None = None  # what the last fresh registry held (rebuilt after pip or ctrl+r)


def plugin_rows(fresh: bool = False) -> tuple[list[dict], list[dict]]:
    """(one row per registered plugin spec, load errors) from a freshly built registry (cached until ``fresh``)."""
    global _ROWS
    if _ROWS is None or fresh:
        _ROWS = _read_plugin_rows()
    return _ROWS


def _read_plugin_rows() -> tuple[list[dict], list[dict]]:
    import importlib

    from workbench.plugins import Registry

    importlib.invalidate_caches()  # see packages pip just installed
    reg = Registry()
    reg.load_entry_points()
    by_module = {p.name: p for p in reg.plugins}
    rows = []
    for kind, specs in reg.specs.items():
        for name, spec in sorted(specs.items()):
            owner = by_module.get(reg.owner.get((kind, name), ""))
            rows.append({"kind": kind, "name": name, "package": owner.package if owner else "?",
                         "version": owner.version if owner else "?", "description": spec.description})
    errors = [{"plugin": e.plugin, "package": e.package, "error": e.error} for e in reg.errors]
    return rows, errors


class PluginsScreen(WorkbenchScreen):
    MODE = "plugins"
    BINDINGS = [Binding("ctrl+r", "reload", "Refresh")]

    def compose_body(self) -> ComposeResult:
        with Vertical():
            yield DataTable(id="plugins-table", cursor_type="row", zebra_stripes=True)
            yield Label("", id="plugin-errors", classes="error")
            with Horizontal(classes="buttons"):
                yield Input(placeholder="package name, local path or URL", id="plugin-spec", compact=True)
                yield Button("Install", id="install", variant="primary", compact=True)
                yield Button("Uninstall", id="uninstall", variant="error", compact=True)
            yield Label("", id="plugin-result")
            yield Log(id="pip-log", max_lines=5000)

    def on_mount(self) -> None:
        self.busy = False

    def reload(self, fresh: bool = False) -> None:
        rows, errors = plugin_rows(fresh)
        fill_table(self.query_one("#plugins-table", DataTable), ["kind", "name", "package", "version", "description"],
                   [(None, [r["kind"], r["name"], r["package"], r["version"], r["description"][:60]]) for r in rows],
                   max_width=60)
        self.query_one("#plugin-errors", Label).update(
            "\n".join(f"load error: {e['plugin']} ({e['package']}): {e['error']}" for e in errors))

    def action_reload(self) -> None:
        self.reload(fresh=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        spec = self.query_one("#plugin-spec", Input).value.strip()
        if not spec:
            self.query_one("#plugin-result", Label).update("[red]enter a package name or path first[/red]")
            return
        if self.busy:
            return
        if event.button.id == "install":
            self._pip(["plugins", "install", spec])
        else:
            def go(yes: bool) -> None:
                if yes:
                    self._pip(["plugins", "uninstall", "--yes", spec])
            self.app.push_screen(Confirm(f"Uninstall the plugin package {spec}?", "Uninstall"), go)

    @work(thread=True, exclusive=True, group="pip")
    def _pip(self, args: list[str]) -> None:
        log = self.query_one("#pip-log", Log)
        self.busy = True
        self.app.call_from_thread(log.clear)
        self.app.call_from_thread(self.query_one("#plugin-result", Label).update, f"running workbench {' '.join(args)}")
        proc = subprocess.Popen([sys.executable, "-c", CLI, *args], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, bufsize=1)
        assert proc.stdout is not None
        for line in proc.stdout:
            self.app.call_from_thread(log.write_line, line.rstrip("\n"))
        rc = proc.wait()
        self.busy = False
        result = (f"[green]done: workbench {' '.join(args)}[/green]" if rc == 0
                  else f"[red]failed (exit code {rc}): see the output above[/red]")
        self.app.call_from_thread(self.query_one("#plugin-result", Label).update, result)
        self.app.call_from_thread(self.plugins_changed)

    def plugins_changed(self) -> None:
        """After pip: this process loads the plugins again, and every other screen is rebuilt when next shown
        (the composer must not offer a plugin that was just uninstalled)."""
        import importlib

        from workbench.plugins import get_registry

        importlib.invalidate_caches()
        get_registry(reload=True)
        self.reload(fresh=True)
        self.app.workspace_changed()
