"""A line plot of named series (loss, validation metrics), redrawn only when the data or the view changes.

The view (:mod:`workbench.tui.widgets.curve_view`): with smoothing, each series is drawn twice, the raw
points in a dim colour and the smoothed line in the bright one (only the latter is in the legend); an
x window shows only the epochs inside it, the y axis fitted to them.
"""

from __future__ import annotations

from textual_plotext import PlotextPlot

from workbench.tui.widgets.curve_view import XWindow, extent, smooth

# (bright colour for the line, dim colour for its raw points), one pair per series in turn
COLOURS = (("cyan+", "cyan"), ("orange+", "orange"), ("green+", "green"), ("magenta+", "magenta"),
           ("red+", "red"), ("blue+", "blue"), ("white", "gray"))


class CurvePlot(PlotextPlot):
    def __init__(self, title: str = "", *, id: str | None = None):
        super().__init__(id=id)
        self.title = title
        self._series: dict[str, tuple[list[float], list[float]]] = {}
        self._xlabel = "epoch"
        self.smoothing = 0.0
        self.window = XWindow()
        self.drawn: list[tuple[str, str, int]] = []  # (legend label or "", colour, points) of each line drawn

    @property
    def full_extent(self) -> tuple[float, float] | None:
        """The x range of every point of every series (what zooming works within)."""
        return extent(self._series)

    def set_series(self, series: dict[str, tuple[list[float], list[float]]], *, title: str | None = None,
                   xlabel: str = "epoch", smoothing: float | None = None, window: XWindow | None = None) -> None:
        """``series``: name -> (xs, ys). ``smoothing`` and ``window`` change the view (None: keep it).
        Redraws only on change."""
        clean = {k: (list(xs), list(ys)) for k, (xs, ys) in series.items() if xs}
        smoothing = self.smoothing if smoothing is None else smoothing
        window = self.window if window is None else window
        if clean == self._series and (title is None or title == self.title) and smoothing == self.smoothing \
                and window == self.window:
            return
        self._series, self._xlabel, self.smoothing, self.window = clean, xlabel, smoothing, window
        if title is not None:
            self.title = title
        self._draw()

    def on_mount(self) -> None:
        super().on_mount()
        self._draw()

    def shown_points(self) -> dict[str, tuple[list[float], list[float]]]:
        """What is drawn as the lines: each series inside the window, smoothed (over all its points first,
        so zooming does not change the smoothed values)."""
        out = {}
        for name, (xs, ys) in self._series.items():
            px, py = self.window.clip(xs, smooth(ys, self.smoothing))
            if px:
                out[name] = (px, py)
        return out

    def _draw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.title if self._series else f"{self.title} (no data yet)")
        plt.xlabel(self._xlabel)
        shown = self.shown_points()
        self.drawn = []
        for i, (name, (xs, ys)) in enumerate(shown.items()):
            bright, dim = COLOURS[i % len(COLOURS)]
            if self.smoothing:
                raw_x, raw_y = self.window.clip(*self._series[name])
                plt.plot(raw_x, raw_y, marker="braille", color=dim)
                self.drawn.append(("", dim, len(raw_x)))
            plt.plot(xs, ys, label=name, marker="braille", color=bright)
            self.drawn.append((name, bright, len(xs)))
        if shown and not self.window.whole:
            plt.xlim(self.window.lo, self.window.hi)
        self.refresh()
