"""A line plot of named series (loss, validation metrics), redrawn only when the data changes."""

from __future__ import annotations

from textual_plotext import PlotextPlot


class CurvePlot(PlotextPlot):
    def __init__(self, title: str = "", *, id: str | None = None):
        super().__init__(id=id)
        self.title = title
        self._series: dict[str, tuple[list[float], list[float]]] = {}
        self._xlabel = "epoch"

    def set_series(self, series: dict[str, tuple[list[float], list[float]]], *, title: str | None = None,
                   xlabel: str = "epoch") -> None:
        """``series``: name -> (xs, ys). Redraws only on change."""
        clean = {k: (list(xs), list(ys)) for k, (xs, ys) in series.items() if xs}
        if clean == self._series and (title is None or title == self.title):
            return
        self._series, self._xlabel = clean, xlabel
        if title is not None:
            self.title = title
        self._draw()

    def on_mount(self) -> None:
        super().on_mount()
        self._draw()

    def _draw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.title)
        plt.xlabel(self._xlabel)
        if not self._series:
            plt.title(f"{self.title} (no data yet)")
        for name, (xs, ys) in self._series.items():
            plt.plot(xs, ys, label=name, marker="braille")
        self.refresh()
