"""What the app's plots share: a titled plotext widget drawn when mounted and on new data."""

from __future__ import annotations

from textual_plotext import PlotextPlot


class TitledPlot(PlotextPlot):
    """A plot with a title; subclasses draw in ``_draw`` (called on mount and by their setters)."""

    def __init__(self, title: str = "", *, id: str | None = None):
        super().__init__(id=id)
        self.title = title

    def on_mount(self) -> None:
        super().on_mount()
        self._draw()

    def _blank(self, title: str):
        """Clear the previous drawing, set ``title``; returns plotext's module to draw with."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(title)
        return plt

    def _draw(self) -> None:
        raise NotImplementedError
