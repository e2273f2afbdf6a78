"""Precomputed-feature view: per-item vectors from a .npy file (torch-free spec)."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.kinds import PluginSpec
from workbench.options import option


@dataclass
class PrecomputedOptions:
    path: str = option(help="a .npy file (rows = items) or .parquet (needs pyarrow) with the item vectors")
    ids_path: str = option("", help="text file with one raw item id per line, aligned to the rows; empty: rows "
                                    "are internal ids (N+1 rows with row 0 padding, or N rows for items 1..N)")
    normalize: bool = option(True, help="standardise every feature column over the items that have a vector")
    context_window: int = option(10, help="events averaged into each state (0 = whole history)", min=0)
    offer_item_embeddings: bool = option(True, help="offer the projected vectors as item vectors to the head")
    dropout: float = option(0.1, help="dropout inside the projection", min=0.0, max=0.9)


SPECS = [PluginSpec(
    name="precomputed", kind="view", factory="workbench_plugins.views.precomputed_impl:PrecomputedView",
    options=PrecomputedOptions,
    description=("Precomputed-feature view. Reads per-item vectors (image, audio, ... embeddings computed "
                 "elsewhere) from a .npy file, aligned to raw item ids by a companion ids file or to "
                 "internal ids; projects them to the model width. Items without a vector get zeros."))]
