"""How a curve chart is viewed: TensorBoard-style smoothing and an x-range window (zoom and pan).

Pure functions and a small value type, so the Runs screen's keys and the chart widget share them
and tests can check them without a terminal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SMOOTHING_STEPS = (0.0, 0.6, 0.9)  # what the smoothing key steps through


def smooth(ys: list[float], weight: float) -> list[float]:
    """TensorBoard's debiased exponential moving average of ``ys`` with ``weight`` in [0, 1).

    ``last = last * weight + (1 - weight) * y`` starting from 0, divided by ``1 - weight ** n``
    (n = finite points so far) so the first points are not pulled towards 0. Non-finite points
    pass through unchanged; weight 0 returns the points as they are.
    """
    if not weight:
        return list(ys)
    out, last, n = [], 0.0, 0
    for y in ys:
        if y is None or not math.isfinite(y):
            out.append(y)
            continue
        last = last * weight + (1 - weight) * y
        n += 1
        out.append(last / (1 - weight ** n))
    return out


def next_smoothing(weight: float) -> float:
    """The smoothing weight after ``weight`` in :data:`SMOOTHING_STEPS` (back to 0 after the last)."""
    later = [w for w in SMOOTHING_STEPS if w > weight + 1e-9]
    return later[0] if later else SMOOTHING_STEPS[0]


@dataclass(frozen=True)
class XWindow:
    """The shown part of the x axis: ``lo`` .. ``hi`` (both None: everything)."""

    lo: float | None = None
    hi: float | None = None
    MIN_WIDTH = 2.0  # zooming in stops at three epochs shown

    @property
    def whole(self) -> bool:
        return self.lo is None or self.hi is None

    def bounds(self, full: tuple[float, float]) -> tuple[float, float]:
        return full if self.whole else (self.lo, self.hi)

    def zoomed_in(self, full: tuple[float, float]) -> XWindow:
        """Half as wide around the same centre (not below :attr:`MIN_WIDTH`)."""
        lo, hi = self.bounds(full)
        width = max(self.MIN_WIDTH, (hi - lo) / 2)
        if width >= hi - lo:
            return self
        centre = (lo + hi) / 2
        return _clamped(centre - width / 2, centre + width / 2, full)

    def zoomed_out(self, full: tuple[float, float]) -> XWindow:
        """Twice as wide around the same centre; the whole axis once it would cover it."""
        if self.whole:
            return self
        lo, hi = self.bounds(full)
        width, centre = (hi - lo) * 2, (lo + hi) / 2
        return _clamped(centre - width / 2, centre + width / 2, full)

    def panned(self, direction: int, full: tuple[float, float]) -> XWindow:
        """Moved half a window left (``direction`` < 0) or right, kept inside the axis."""
        if self.whole:
            return self
        lo, hi = self.bounds(full)
        shift = (hi - lo) / 2 * (1 if direction > 0 else -1)
        return _clamped(lo + shift, hi + shift, full)

    def clip(self, xs: list[float], ys: list[float]) -> tuple[list[float], list[float]]:
        """The points inside the window."""
        if self.whole:
            return list(xs), list(ys)
        kept = [(x, y) for x, y in zip(xs, ys) if self.lo <= x <= self.hi]
        return [x for x, _ in kept], [y for _, y in kept]

    def label(self) -> str:
        """``epochs 3-6`` when zoomed, else empty."""
        return "" if self.whole else f"epochs {_num(self.lo)}-{_num(self.hi)}"


def _clamped(lo: float, hi: float, full: tuple[float, float]) -> XWindow:
    """The window ``lo``..``hi`` moved (not shrunk) to lie inside ``full``; the whole axis if it is as wide.
    On a whole-number axis (epochs) the window's ends are whole numbers too."""
    width = hi - lo
    if float(full[0]).is_integer() and float(full[1]).is_integer():
        width = max(1, round(width))
        lo = round(lo)
        hi = lo + width
    if width >= full[1] - full[0]:
        return XWindow()
    if lo < full[0]:
        lo, hi = full[0], full[0] + width
    if hi > full[1]:
        lo, hi = full[1] - width, full[1]
    return XWindow(lo, hi)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.1f}"


def extent(series: dict[str, tuple[list[float], list[float]]]) -> tuple[float, float] | None:
    """(smallest x, largest x) over every series, None without points."""
    xs = [x for sx, _ in series.values() for x in sx]
    return (min(xs), max(xs)) if xs else None
