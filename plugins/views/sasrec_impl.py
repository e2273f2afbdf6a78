"""SASRec-style Transformer over item ids: causal per-position states (B, L, d)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from workbench.model.base import SeqBatch, View, ViewOutput
from workbench.model.dropout import Dropout
from workbench_plugins.views._embedding import ItemEmbedding


class CausalSelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float):
        """``dropout`` applies to the attention probabilities (0 keeps SDPA on its fused kernel)."""
        super().__init__()
        if dim % heads:
            raise ValueError(f"views.sasrec.heads: {heads} does not divide model.dim {dim}")
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None,
                kv: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, L, d) queries (and keys/values unless ``kv`` (B, L, d) gives those);
        attn_mask (B, 1, L, L) bool (True = may attend) or None -> (B, L, d)."""
        B, L, d = x.shape
        if kv is None:
            q, k, v = self.qkv(x).view(B, L, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        else:
            w, b = self.qkv.weight, self.qkv.bias
            q = F.linear(x, w[:d], b[:d]).view(B, L, self.heads, d // self.heads).transpose(1, 2)
            k, v = F.linear(kv, w[d:], b[d:]).view(B, L, 2, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        p = self.dropout if self.training else 0.0
        dtype = q.dtype
        if dtype == torch.bfloat16 and q.device.type == "cpu":
            # torch's CPU flash-attention kernel is ~1.6x faster in fp32 than in bf16 (forward + backward)
            with torch.autocast("cpu", enabled=False):
                y = _attend(q.float(), k.float(), v.float(), attn_mask, p).to(dtype)
        else:
            y = _attend(q, k, v, attn_mask, p)
        return self.out(y.transpose(1, 2).reshape(B, L, d))


def _attend(q, k, v, attn_mask: torch.Tensor | None, dropout_p: float) -> torch.Tensor:
    if attn_mask is None:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=dropout_p)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p)


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float, attn_dropout: float, ffn_mult: int, norm: str):
        super().__init__()
        self.norm = norm
        self.attn = CausalSelfAttention(dim, heads, attn_dropout)
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn_mult * dim), nn.GELU(), Dropout(dropout),
                                 nn.Linear(ffn_mult * dim, dim))
        self.drop = Dropout(dropout)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        if self.norm == "pre":
            x = x + self.drop(self.attn(self.ln1(x), attn_mask))
            return x + self.drop(self.ffn(self.ln2(x)))
        if self.norm == "sasrec":         # the original SASRec code: normalized queries, raw keys/values
            q = self.ln1(x)
            x = q + self.drop(self.attn(q, attn_mask, kv=x))
            h = self.ln2(x)
            return h + self.drop(self.ffn(h))
        x = self.ln1(x + self.drop(self.attn(x, attn_mask)))
        return self.ln2(x + self.drop(self.ffn(x)))


class SASRecView(View):
    """Item embedding + learned position -> causal blocks.

    Positions ``from_end``: the latest event has position L-1; ``from_start``: the first event of the
    window has position 0, so the latest one's position is the history length (capped at L).

    Left padding: padded keys are masked out; a padded query attends to itself only,
    so no row is fully masked (no NaN). Outputs at padded positions are zeroed.
    """

    def __init__(self, options, ctx, dim):
        super().__init__(options, ctx, dim)
        o = options
        self.items = ItemEmbedding(ctx.num_items, dim)
        self.positions = nn.Embedding(ctx.max_len, dim)
        nn.init.trunc_normal_(self.positions.weight, std=0.02)
        self.drop = Dropout(o.dropout)
        self.blocks = nn.ModuleList(Block(dim, o.heads, o.dropout, o.attn_dropout, o.ffn_mult, o.norm)
                                    for _ in range(o.blocks))
        self.final_norm = nn.LayerNorm(dim) if o.norm in ("pre", "sasrec") else nn.Identity()

    def forward(self, batch: SeqBatch) -> ViewOutput:
        items = batch.items                                    # (B, L)
        B, L = items.shape
        valid = items > 0                                      # (B, L)
        if self.options.positions == "from_start":            # left padding: count the real events
            pos = (valid.cumsum(1) - 1).clamp(min=0)
        else:
            pos = torch.arange(self.ctx.max_len - L, self.ctx.max_len, device=items.device)[None]
        x = self.items(items, scale=self.options.scale_embeddings) + self.positions(pos)
        x = self.drop(x) * valid[..., None]
        mask = self._mask(valid)
        for block in self.blocks:
            x = block(x, mask)
        return ViewOutput(self.final_norm(x) * valid[..., None])

    @staticmethod
    def _mask(valid: torch.Tensor) -> torch.Tensor | None:
        """(B, 1, L, L) bool: key j visible to query i iff j <= i and (j is real or j == i)."""
        L = valid.shape[1]
        causal = torch.ones(L, L, dtype=torch.bool, device=valid.device).tril()
        eye = torch.eye(L, dtype=torch.bool, device=valid.device)
        return (causal & (valid[:, None, :] | eye))[:, None]

    def item_representations(self) -> torch.Tensor:
        """(N+1, d) the ID table; in training with ``id_dropout`` a fresh random share of its rows is
        zeroed at every call (one call per step), so for those items the head sees only what the
        content views offer: the way items never seen in training are scored."""
        table = self.items.weight
        p = self.options.id_dropout
        if self.training and p > 0:
            keep = torch.rand(table.shape[0], 1, device=table.device) >= p
            table = table * keep.to(table.dtype)
        return table
