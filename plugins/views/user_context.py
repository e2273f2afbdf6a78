"""User and request-context view (torch-free spec)."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.kinds import PluginSpec
from workbench.options import option


@dataclass
class UserContextOptions:
    attributes: list[str] | None = option(None, help="user attribute names to use (default: every attribute "
                                                     "in the data)")
    max_categories: int = option(1000, help="most frequent values kept per categorical attribute", min=1)
    request_time: bool = option(True, help="use the time of the prediction point: hour, day of week, "
                                           "gap since the last event")
    utc_offset_hours: float = option(0.0, help="shift applied before hour-of-day / day-of-week", min=-14, max=14)
    dropout: float = option(0.1, help="dropout on the output states", min=0.0, max=0.9)


SPECS = [PluginSpec(
    name="user_context", kind="view", factory="workbench_plugins.views.user_context_impl:UserContextView",
    options=UserContextOptions,
    description=("User and context view. Reads ctx.user_attributes (categorical values are embedded, numeric "
                 "ones standardised; e.g. MovieLens age, gender, occupation) and the request context "
                 "batch.target_timestamps (hour, day of week, gap since the last event; real timestamps "
                 "only). The state at t is the user vector plus the context of the prediction made at t."))]
