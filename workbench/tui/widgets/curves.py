"""A line plot of named series (loss, validation metrics), redrawn only when the data changes."""

from __future__ import annotations

from workbench.tui.widgets._plot import TitledPlot


class CurvePlot(TitledPlot):
    def __init__(self, title: str = "", *, id: str | None = None):
        super().__init__(title, id=id)
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

    def _draw(self) -> None:
        plt = self._blank(self.title if self._series else f"{self.title} (no data yet)")
        plt.xlabel(self._xlabel)
        for name, (xs, ys) in self._series.items():
            plt.plot(xs, ys, label=name, marker="braille")
        self.refresh()
