"""Gated residual fusion (options in :mod:`.gated`).

``fused = s_b + sum_{k != b} g_k * W_k s_k`` and, for the head, ``e = e_b + sum_{k != b} h_k * e_k``
with per-dimension gates ``g_k, h_k`` initialised to ``gate_init`` (0 by default: at step 0 the model
is exactly the base view). Unlike attention or GMU fusion it adds no normalisation or dropout on the
base view's path, so a well-tuned single-view recipe keeps working and the other views are a learned
residual on top of it (ReZero-style gating).
"""

from __future__ import annotations

import torch
from torch import nn

from workbench.model.base import Fusion, FusionOutput
from workbench_plugins.fusions._norm_shares import norm_shares


class GatedFusion(Fusion):
    def __init__(self, options, ctx, dim: int, num_views: int):
        super().__init__(options, ctx, dim, num_views)
        if options.base_view >= num_views:
            raise ValueError(f"fusion.gated.base_view: {options.base_view} but only {num_views} views (0-based)")
        others = num_views - 1
        self.project = nn.ModuleList(nn.Linear(dim, dim) for _ in range(others))
        self.gates = nn.Parameter(torch.full((others, dim), float(options.gate_init)))
        self.item_gate = nn.Parameter(torch.full((others, dim), float(options.gate_init)))
        # the weights where every state is zero (padding): all on the base view
        self.register_buffer("base_only", torch.eye(num_views)[options.base_view], persistent=False)

    def _others(self, seq):
        return [x for k, x in enumerate(seq) if k != self.options.base_view]

    def forward(self, states, batch) -> FusionOutput:
        """states: V x (B, L, d) -> fused (B, L, d); weights (B, L, V) = each view's share of the
        contribution norms (the base view's state, the gated projections of the others)."""
        base = states[self.options.base_view]
        parts = [self.gates[k] * proj(s) for k, (proj, s) in enumerate(zip(self.project, self._others(states)))]
        fused = base + sum(parts) if parts else base
        with torch.no_grad():
            norms = [p.float().norm(dim=-1) for p in parts]
            norms.insert(self.options.base_view, base.float().norm(dim=-1))
            weights = norm_shares(torch.stack(norms, dim=-1), self.base_only)      # (B, L, V)
        return FusionOutput(fused, weights)

    def combine_item_tables(self, tables):
        """tables: one (N+1, d) tensor or None per view -> the head's item vectors (or None)."""
        if not self.options.item_gates:
            return super().combine_item_tables(tables)
        base = tables[self.options.base_view]
        out = base
        for k, table in enumerate(self._others(tables)):
            if table is None:
                continue
            gated = self.item_gate[k] * table
            out = gated if out is None else out + gated
        return out
