"""Top bar: the workspace name and a clickable tab per mode (keys in brackets)."""

from __future__ import annotations

from textual.widgets import Static


class NavBar(Static):
    DEFAULT_CSS = """
    NavBar { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def __init__(self, mode: str):
        super().__init__("", markup=True)
        self.mode = mode

    def on_mount(self) -> None:
        self.refresh_label()

    def refresh_label(self) -> None:
        from workbench.tui.screen_list import SCREENS

        parts = []
        for mode, key, title in ((i.mode, i.key, i.title) for i in SCREENS):
            # every title starts with its key: show that letter underlined
            label = f"[u]{title[0]}[/u]{title[1:]}" if title[0].lower() == key else f"{title}({key})"
            if mode == self.mode:
                parts.append(f"[reverse b]{title}[/]")
            else:
                parts.append(f"[@click=app.switch_mode('{mode}')]{label}[/]")
        ws = getattr(self.app, "ws_path", None)
        name = f"[b]{ws.stem[:12]}[/b] │ " if ws is not None else ""
        self.update(name + " ".join(parts))
