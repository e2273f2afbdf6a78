"""Graph view (torch implementation); options in :mod:`.graph`.

The graph has a node per item id (0..N; padding 0 is isolated) and an edge
a -> b weighted by how often b follows a within ``window`` events in a
*training* sequence (``ctx.train_sequences``: no validation/test leakage).
Each node keeps its ``max_neighbors`` strongest incoming edges. The GNN refines
the ID table ``E`` (N+1, d) into ``H = E + GNN(E)`` (N+1, d).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn

from workbench.model.base import DataContext, SeqBatch, View, ViewOutput
from workbench.model.sequences import ItemSequences
from workbench.model.dropout import Dropout
from workbench_plugins.views._pooling import causal_window_mean

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from torch_geometric.nn import GATConv, GatedGraphConv, GCNConv


def transition_edges(sequences, num_items: int, window: int = 1, directed: bool = False,
                     max_neighbors: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Edges from training sequences (an :class:`ItemSequences` or a list of item-id lists):
    ``edge_index`` (2, E) long (source, target) and ``weight`` (E,) float (count, then normalised to
    max 1 per target node). Self-loops are dropped."""
    seqs = ItemSequences.from_lists(sequences)
    values = torch.from_numpy(seqs.values.astype(np.int64, copy=False))
    position = torch.from_numpy(np.arange(len(seqs.values), dtype=np.int64) - np.repeat(seqs.offsets[:-1], seqs.lengths))
    src, dst = [], []
    for k in range(1, window + 1):
        within = position[k:] >= k                # value i+k and value i belong to the same sequence
        src.append(values[:-k][within])
        dst.append(values[k:][within])
    a, b = torch.cat(src), torch.cat(dst)
    if len(a) == 0:
        return torch.zeros(2, 0, dtype=torch.long), torch.zeros(0)
    if not directed:
        a, b = torch.cat([a, b]), torch.cat([b, a])
    keep = a != b
    a, b = a[keep], b[keep]
    n = num_items + 1
    pair, count = torch.unique(a * n + b, return_counts=True)
    a, b, w = pair // n, pair % n, count.float()
    if max_neighbors > 0:
        # per target node b, keep the max_neighbors largest weights: sort by (b, -w), rank within b
        order = torch.argsort(b * (w.max() + 1) - w, stable=True)
        a, b, w = a[order], b[order], w[order]
        first = torch.ones_like(b, dtype=torch.bool)
        first[1:] = b[1:] != b[:-1]
        start = torch.cummax(torch.where(first, torch.arange(len(b)), torch.zeros_like(b)), 0).values
        rank = torch.arange(len(b)) - start
        keep = rank < max_neighbors
        a, b, w = a[keep], b[keep], w[keep]
    peak = torch.zeros(n).scatter_reduce(0, b, w, reduce="amax")
    return torch.stack([a, b]), w / peak[b]


class GraphView(View):
    def __init__(self, options, ctx: DataContext, dim: int):
        super().__init__(options, ctx, dim)
        o = options
        edge_index, weight = transition_edges(ctx.train_sequences, ctx.num_items, o.window, o.directed,
                                              o.max_neighbors)
        self.register_buffer("edge_index", edge_index, persistent=False)
        self.register_buffer("edge_weight", weight, persistent=False)
        self.item_emb = nn.Embedding(ctx.num_items + 1, dim, padding_idx=0)
        nn.init.normal_(self.item_emb.weight, std=0.02)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()
        if o.conv == "gcn":
            self.convs = nn.ModuleList(GCNConv(dim, dim, add_self_loops=True) for _ in range(o.layers))
        elif o.conv == "gat":
            self.convs = nn.ModuleList(GATConv(dim, dim // o.heads if dim % o.heads == 0 else dim,
                                               heads=o.heads, concat=dim % o.heads == 0, add_self_loops=True)
                                       for _ in range(o.layers))
        else:
            self.convs = nn.ModuleList([GatedGraphConv(dim, num_layers=o.layers)])
        self.dropout = Dropout(o.dropout)
        self.norm = nn.LayerNorm(dim)

    def refined_items(self) -> torch.Tensor:
        """(N+1, d) item vectors after message passing; row 0 is zero."""
        x = self.item_emb.weight
        h = x
        for k, conv in enumerate(self.convs):
            if self.options.conv == "gat":
                h = conv(h, self.edge_index)
            else:
                h = conv(h, self.edge_index, self.edge_weight)
            if k < len(self.convs) - 1:
                h = self.dropout(torch.relu(h))
        out = x + h
        return out * (torch.arange(out.shape[0], device=out.device) > 0).unsqueeze(1).to(out.dtype)

    def forward(self, batch: SeqBatch) -> ViewOutput:
        mask = batch.mask
        table = self.refined_items()
        x = table[batch.items]                                             # (B, L, d)
        states = self.norm(x + causal_window_mean(x, mask, self.options.context_window))
        return ViewOutput(states * mask.unsqueeze(-1).to(states.dtype))

    def item_representations(self) -> torch.Tensor | None:
        return self.refined_items() if self.options.offer_item_embeddings else None
