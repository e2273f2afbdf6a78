"""Text view (torch implementation); options in :mod:`.text`.

Item k's text (from ``ctx.item_titles``, ``ctx.item_categories``, ``ctx.item_texts``)
is embedded once -> ``T`` (N+1, D) (row 0 and empty texts are zero), whitened with
fixed PCA statistics of the catalogue, then adapted to ``x = A(T)`` (N+1, d).
States at t: ``LN(x[i_t] + mean(x[i_{t-w+1..t}]))`` (causal).
"""

from __future__ import annotations

import torch
from torch import nn

from workbench.model.base import DataContext, SeqBatch, View, ViewOutput
from workbench.model.dropout import Dropout
from workbench_plugins.views._pooling import causal_window_mean
from workbench_plugins.views._text_cache import encode_texts, item_text


def item_texts(ctx: DataContext, fields: list[str]) -> list[str]:
    """(N+1,) texts; index 0 (padding) is empty."""
    n = ctx.num_items + 1
    get = lambda seq, k, default: seq[k] if k < len(seq) and seq[k] is not None else default  # noqa: E731
    return [""] + [item_text(get(ctx.item_titles, k, ""), get(ctx.item_categories, k, []),
                             get(ctx.item_texts, k, ""), fields) for k in range(1, n)]


def whitening(x: torch.Tensor, keep: torch.Tensor, dims: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (D,) and whitening matrix (D, k) from the rows ``keep`` of x (N+1, D)."""
    rows = x[keep].double()
    mu = rows.mean(0)
    cov = torch.cov((rows - mu).t()) if rows.shape[0] > 1 else torch.eye(x.shape[1], dtype=torch.float64)
    evals, evecs = torch.linalg.eigh(cov)
    order = torch.argsort(evals, descending=True)
    evals, evecs = evals[order], evecs[:, order]
    k = dims if 0 < dims <= x.shape[1] else x.shape[1]
    k = max(1, min(k, rows.shape[0] - 1))             # directions beyond the sample rank are noise
    floor = 1e-2 * evals.clamp(min=0).mean() + 1e-8   # regularised: tiny components are not blown up
    w = evecs[:, :k] / torch.sqrt(evals[:k].clamp(min=0) + floor)
    return mu.float(), w.float()


class TextView(View):
    def __init__(self, options, ctx: DataContext, dim: int):
        super().__init__(options, ctx, dim)
        o = options
        texts = item_texts(ctx, o.fields)
        matrix, self.cache_stats = encode_texts(texts, o.model, ctx.workspace, o.encode_batch_size,
                                                o.encode_device)
        text = torch.from_numpy(matrix)
        has_text = torch.tensor([bool(t) for t in texts])
        if not bool(has_text.any()):
            raise ValueError("views.text: no item has a title, categories or text; the text view needs item text "
                             f"(fields {o.fields})")
        self.register_buffer("has_text", has_text, persistent=False)
        if o.whiten:
            mu, w = whitening(text, has_text, o.whiten_dim)
            text = torch.where(has_text.unsqueeze(1), (text - mu) @ w, torch.zeros(1, w.shape[1]))
        self.register_buffer("text", text.float(), persistent=False)     # (N+1, D')
        D = text.shape[1]
        if o.adapter == "linear":
            self.adapter = nn.Linear(D, dim)
        elif o.adapter == "mlp":
            self.adapter = nn.Sequential(nn.Linear(D, dim * 2), nn.GELU(), Dropout(o.dropout),
                                         nn.Linear(dim * 2, dim))
        else:
            self.experts = nn.ModuleList(nn.Sequential(nn.Linear(D, dim), nn.GELU(), nn.Linear(dim, dim))
                                         for _ in range(o.experts))
            self.gate = nn.Linear(D, o.experts)
        self.norm = nn.LayerNorm(dim)
        self.out_norm = nn.LayerNorm(dim)

    def project(self, text: torch.Tensor) -> torch.Tensor:
        """(..., D') -> (..., d) adapted text vectors."""
        if self.options.adapter == "moe":
            gates = torch.softmax(self.gate(text), dim=-1)                           # (..., K)
            outs = torch.stack([e(text) for e in self.experts], dim=-2)              # (..., K, d)
            return self.norm((gates.unsqueeze(-1) * outs).sum(-2))
        return self.norm(self.adapter(text))

    def forward(self, batch: SeqBatch) -> ViewOutput:
        mask = batch.mask
        x = self.project(self.text[batch.items]) * mask.unsqueeze(-1).to(self.text.dtype)   # (B, L, d)
        states = self.out_norm(x + causal_window_mean(x, mask, self.options.context_window))
        return ViewOutput(states * mask.unsqueeze(-1).to(states.dtype))

    def item_representations(self) -> torch.Tensor | None:
        """(N+1, d) projected texts; row 0 and items without text are zero."""
        if not self.options.offer_item_embeddings:
            return None
        reps = self.project(self.text)
        return reps * self.has_text.unsqueeze(1).to(reps.dtype)
