"""Graph view: item-transition graph from training sequences refined by a GNN (torch-free spec)."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.kinds import PluginSpec
from workbench.options import option


@dataclass
class GraphOptions:
    conv: str = option("gcn", help="graph convolution", choices=["gcn", "gat", "gated"])
    layers: int = option(2, help="GNN layers", min=1, max=8)
    window: int = option(1, help="link each item to the next `window` items of the same training sequence", min=1,
                         max=10)
    directed: bool = option(False, help="keep edge direction (a -> b); false adds b -> a too")
    max_neighbors: int = option(20, help="keep each item's strongest incoming edges (0 = all)", min=0)
    heads: int = option(2, help="attention heads (conv = gat)", min=1, max=16)
    context_window: int = option(10, help="events averaged into each state (0 = whole history)", min=0)
    dropout: float = option(0.1, help="dropout between GNN layers", min=0.0, max=0.9)
    offer_item_embeddings: bool = option(True, help="offer the refined item vectors to the head")


SPECS = [PluginSpec(
    name="graph", kind="view", factory="workbench_plugins.views.graph_impl:GraphView", options=GraphOptions,
    description=("Graph view. Reads the training sequences only (never validation/test events): a global "
                 "item-transition graph (weighted by counts, top neighbours kept) whose item embeddings are "
                 "refined by a torch-geometric GNN (GCN, GAT or GatedGraphConv). States: the refined vector "
                 "of each event plus the mean of the recent ones (causal); the refined table is offered "
                 "to the head."))]
