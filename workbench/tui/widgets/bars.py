"""A bar/histogram plot widget for dataset statistics."""

from __future__ import annotations

from textual_plotext import PlotextPlot


class BarPlot(PlotextPlot):
    def __init__(self, title: str = "", *, id: str | None = None):
        super().__init__(id=id)
        self.title = title
        self._data: tuple | None = None

    def show_bars(self, labels: list, values: list, *, xlabel: str = "", ylabel: str = "",
                  log_y: bool = False, line: bool = False) -> None:
        self._data = (list(labels), list(values), xlabel, ylabel, log_y, line)
        self._draw()

    def on_mount(self) -> None:
        super().on_mount()
        self._draw()

    def _draw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.title if self._data else f"{self.title} (no data)")
        if not self._data:
            self.refresh()
            return
        labels, values, xlabel, ylabel, log_y, line = self._data
        plt.xlabel(xlabel)
        plt.ylabel(ylabel)
        if log_y:
            plt.yscale("log")
        # numeric positions and explicit ticks: plotext's own tick choice for string labels varies between draws
        xs = list(range(1, len(values) + 1))
        if line:
            plt.plot(xs, values, marker="braille")
        else:
            plt.bar(xs, values, width=0.8)
        if labels:
            step = max(1, len(labels) // 5)
            picks = list(range(0, len(labels), step))
            plt.xticks([xs[i] for i in picks], [str(labels[i]) for i in picks])
        self.refresh()
