"""GRU / LSTM item-ID encoders: (B, L) items -> causal (B, L, d) states."""

from __future__ import annotations

import torch
from torch import nn

from workbench.model.base import SeqBatch, View, ViewOutput
from workbench.model.dropout import Dropout
from workbench_plugins.views._embedding import ItemEmbedding


class _RNNView(View):
    rnn_cls: type = nn.GRU

    def __init__(self, options, ctx, dim):
        super().__init__(options, ctx, dim)
        self.items = ItemEmbedding(ctx.num_items, dim)
        self.drop = Dropout(options.dropout)
        self.rnn = self.rnn_cls(dim, dim, num_layers=options.layers, batch_first=True,
                                dropout=options.dropout if options.layers > 1 else 0.0)

    def forward(self, batch: SeqBatch) -> ViewOutput:
        valid = batch.items > 0                                 # (B, L)
        x = self.drop(self.items(batch.items)) * valid[..., None]
        states, _ = self.rnn(x)                                 # (B, L, d), left-to-right: causal
        return ViewOutput(self.drop(states) * valid[..., None])

    def item_representations(self) -> torch.Tensor:
        return self.items.weight


class GRUView(_RNNView):
    rnn_cls = nn.GRU


class LSTMView(_RNNView):
    rnn_cls = nn.LSTM
