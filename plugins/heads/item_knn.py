"""Item-KNN baseline head: items similar to what the user recently interacted with."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.kinds import PluginSpec
from workbench.options import option


@dataclass
class ItemKNNOptions:
    neighbours: int = option(100, help="similar items kept per item (top-k sparsification)", min=1)
    similarity: str = option("cosine", help="cosine, or asymmetric cosine weighted by alpha",
                             choices=["cosine", "asymmetric"])
    alpha: float = option(0.5, help="asymmetric cosine exponent: co(i,j) / (n_i^alpha * n_j^(1-alpha)); "
                                    "0.5 = cosine", min=0.0, max=1.0)
    shrinkage: float = option(0.0, help="added to the similarity denominator; damps pairs of rare items",
                              min=0.0)
    recent: int = option(0, help="score from only the last n events of the history window (0 = all of it)",
                         min=0)


SPECS = [PluginSpec(
    name="item_knn", kind="head", factory="workbench_plugins.heads.item_knn_impl:ItemKNNHead",
    options=ItemKNNOptions,
    description="Baseline (not trained): sums item-item cosine similarities over the user's recent history")]
