"""Multi-scale temporal view: time features + multi-window pooling + change rates (torch-free spec)."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.kinds import PluginSpec
from workbench.options import ConfigError, option


@dataclass
class TemporalOptions:
    windows: list[int] = option(default_factory=lambda: [3, 20, 0],
                                help="pooling windows in events (0 = whole history), combined by scale attention")
    gap_buckets: int = option(24, help="log2 buckets of the time gap to the previous event", min=2, max=64)
    session_gap: float = option(1800.0, help="seconds of inactivity that start a new session", min=1.0)
    change_window: int = option(10, help="window (events) of the change-rate features", min=2)
    utc_offset_hours: float = option(0.0, help="shift applied before hour-of-day / day-of-week", min=-14, max=14)
    dropout: float = option(0.1, help="dropout on the output states", min=0.0, max=0.9)
    offer_item_embeddings: bool = option(False, help="offer this view's ID table to the head (tied)")

    def __post_init__(self):
        if not self.windows:
            raise ConfigError("windows: give at least one window")
        if any(w < 0 for w in self.windows):
            raise ConfigError(f"windows: must be >= 0 (0 = whole history), got {self.windows}")


SPECS = [PluginSpec(
    name="temporal", kind="view", factory="workbench_plugins.views.temporal_impl:TemporalView",
    options=TemporalOptions,
    description=("Multi-scale temporal view. Reads item ids, timestamps (positions when the data has no time) "
                 "and item categories: log-bucketed gap to the previous event, hour-of-day, day-of-week, "
                 "session boundaries, time since the first event, multi-window pooled ID states combined by "
                 "learned scale attention, and category/item change rates. Causal per position."))]
