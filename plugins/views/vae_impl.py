"""VAE latent view (torch implementation); options in :mod:`.vae`.

``h = Enc(E[items])`` (B, L, d) causal; ``mu, logvar = Linear(h)``;
``v = mu + exp(logvar / 2) * eps`` in training, ``v = mu`` in eval.
``aux_loss = beta * anneal(step) * mean_t KL(q(v_t|h_t) || N(0, I)) / d`` over real positions
(the KL per latent dimension, so ``beta`` does not depend on the width),
where ``anneal`` rises linearly from 0 to 1 over ``anneal_steps`` training forwards.
"""

from __future__ import annotations

import torch
from torch import nn

from workbench.model.base import DataContext, SeqBatch, View, ViewOutput
from workbench.model.dropout import Dropout


class VAEView(View):
    def __init__(self, options, ctx: DataContext, dim: int):
        super().__init__(options, ctx, dim)
        o = options
        self.item_emb = nn.Embedding(ctx.num_items + 1, dim, padding_idx=0)
        nn.init.normal_(self.item_emb.weight, std=0.02)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()
        if o.encoder == "gru":
            self.rnn = nn.GRU(dim, dim, num_layers=o.layers, batch_first=True)
        elif o.encoder == "lstm":
            self.rnn = nn.LSTM(dim, dim, num_layers=o.layers, batch_first=True)
        else:
            if dim % o.heads:
                raise ValueError(f"views.vae.heads: model.dim {dim} is not divisible by {o.heads} heads")
            self.pos_emb = nn.Embedding(ctx.max_len, dim)
            layer = nn.TransformerEncoderLayer(dim, o.heads, dim * 2, o.dropout, batch_first=True, norm_first=True)
            self.transformer = nn.TransformerEncoder(layer, o.layers, enable_nested_tensor=False)
        self.to_mu = nn.Linear(dim, dim)
        self.to_logvar = nn.Linear(dim, dim)
        nn.init.constant_(self.to_logvar.bias, -2.0)   # start with a small posterior variance
        self.dropout = Dropout(o.dropout)
        self.norm = nn.LayerNorm(dim)
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def encode(self, batch: SeqBatch) -> torch.Tensor:
        """(B, L) items -> h (B, L, d), causal."""
        x = self.dropout(self.item_emb(batch.items))
        if self.options.encoder in ("gru", "lstm"):
            # left padding: the recurrent state only sees zeros before the first real event
            return self.rnn(x)[0]
        L = x.shape[1]
        x = x + self.pos_emb(torch.arange(L, device=x.device) + (self.ctx.max_len - L))
        causal = torch.triu(torch.ones(L, L, dtype=torch.bool, device=x.device), diagonal=1)
        h = self.transformer(x, mask=causal, src_key_padding_mask=~batch.mask & (batch.mask.any(1, keepdim=True)))
        # a padded query sees only padded keys: PyTorch's inference fast path (eval, no grad) returns NaN
        # there, which `* mask` would keep; padded positions carry nothing, so they are zeroed here
        return h.masked_fill(~batch.mask.unsqueeze(-1), 0.0)

    def kl_weight(self) -> torch.Tensor:
        """beta * anneal as a 0-dim tensor on the view's device (no host sync per training step)."""
        o = self.options
        if o.anneal_steps <= 0:
            return torch.tensor(o.beta, device=self.steps.device)
        return o.beta * (self.steps.float() / o.anneal_steps).clamp(max=1.0)

    def forward(self, batch: SeqBatch) -> ViewOutput:
        mask = batch.mask
        h = self.norm(self.encode(batch))
        mu, logvar = self.to_mu(h), self.to_logvar(h).clamp(-10.0, 10.0)
        if self.training:
            v = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        else:
            v = mu
        m = mask.unsqueeze(-1).to(h.dtype)
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).mean(-1)          # (B, L) per latent dimension
        kl = (kl * mask).sum() / mask.sum().clamp(min=1)
        aux = None
        if self.training:
            aux = kl * self.kl_weight()
            self.steps += 1
        self.last_kl = kl.detach()
        states = v if self.options.output == "latent" else h + v
        return ViewOutput(self.dropout(states) * m, aux)

    def item_representations(self) -> torch.Tensor | None:
        return self.item_emb.weight if self.options.offer_item_embeddings else None
