"""The Datasets screen's "extract item features" dialog: kind, folder (or manifest), output prefix and, for
images, the local model file. Dismisses with the entered values (a dict) or None; the extraction itself is
:func:`workbench.data.extract_features.extract_features`, the same as ``workbench data features``."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select


class FeaturesDialog(ModalScreen[dict | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    FeaturesDialog { align: center middle; }
    FeaturesDialog > Vertical { width: 76; max-width: 98%; height: auto; border: thick $accent;
                                background: $surface; padding: 1 2; }
    FeaturesDialog .row { height: auto; }
    FeaturesDialog .row Label { width: 14; }
    FeaturesDialog Input, FeaturesDialog Select { width: 1fr; }
    FeaturesDialog #feat-buttons { height: auto; margin-top: 1; }
    FeaturesDialog Button { margin-right: 2; }
    """

    def __init__(self, dataset: str, out_prefix: str):
        super().__init__()
        self.dataset, self.out_prefix = dataset, out_prefix

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Vectors for the precomputed view from item files named by raw item id of {self.dataset!r} "
                        "(or a CSV/TSV manifest with item_id and path)")
            for label, widget in (
                    ("kind", Select([("audio (log-mel / MFCC statistics)", "audio"),
                                     ("image (a local model file)", "image")], value="audio", allow_blank=False,
                                    id="feat-kind", compact=True)),
                    ("files", Input("", placeholder="folder of item files, or a manifest", id="feat-source",
                                    compact=True)),
                    ("output", Input(self.out_prefix, id="feat-out", compact=True)),
                    ("image model", Input("", placeholder="image: .pt2, TorchScript, or a state dict (+ arch)",
                                          id="feat-model", compact=True)),
                    ("image arch", Input("", placeholder="image: torchvision architecture of a state dict",
                                         id="feat-arch", compact=True))):
                with Horizontal(classes="row"):
                    yield Label(label)
                    yield widget
            yield Label("", id="feat-error")
            with Horizontal(id="feat-buttons"):
                yield Button("Extract", variant="primary", id="feat-extract", compact=True)
                yield Button("Cancel", id="feat-cancel", compact=True)
            yield Label("[dim]enter in a field extracts, escape cancels[/dim]")

    def values(self) -> dict | None:
        v = {"kind": self.query_one("#feat-kind", Select).value,
             **{k: self.query_one(f"#feat-{k}", Input).value.strip() for k in ("source", "out", "model", "arch")}}
        missing = [k for k in ("source", "out") if not v[k]]
        if missing:
            self.query_one("#feat-error", Label).update(f"[red]{' and '.join(missing)}: required[/red]")
            return None
        return v

    def _submit(self) -> None:
        v = self.values()
        if v is not None:
            self.dismiss(v)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "feat-extract":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
