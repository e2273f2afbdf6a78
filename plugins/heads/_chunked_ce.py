"""Memory-light softmax cross-entropy over all items: the (P, N) logits are never stored.

Forward computes logits chunk by chunk and keeps only the log-sum-exp (P,); backward
recomputes each chunk's logits and turns them into gradients in place. The chunks stay
in cache, which on CPU is several times faster than materialising the full fp32 logits
(writing, log-softmaxing and zero-filling hundreds of MB per step).
"""

from __future__ import annotations

import torch


class ChunkedSoftmaxCE(torch.autograd.Function):
    """loss = mean_p [ logsumexp_n(h_p . E_n) - h_p . E_{t_p} ];  h (P, d), E (N, d), t (P,) in 0..N-1."""

    @staticmethod
    def forward(ctx, h: torch.Tensor, E: torch.Tensor, t: torch.Tensor, chunk: int, smoothing: float):
        P = h.shape[0]
        lse = torch.empty(P, dtype=torch.float32, device=h.device)
        total = torch.zeros((), dtype=torch.float32, device=h.device)
        for s in range(0, P, chunk):
            logits = (h[s:s + chunk] @ E.T).float()                       # (c, N)
            lse[s:s + chunk] = torch.logsumexp(logits, dim=1)
            tgt = logits.gather(1, t[s:s + chunk, None]).squeeze(1)
            nll = lse[s:s + chunk] - tgt
            if smoothing:
                nll = (1 - smoothing) * nll + smoothing * (lse[s:s + chunk] - logits.mean(1))
            total += nll.sum()
        ctx.save_for_backward(h, E, t, lse)
        ctx.chunk, ctx.smoothing = chunk, smoothing
        return total / max(P, 1)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        h, E, t, lse = ctx.saved_tensors
        P, N = h.shape[0], E.shape[0]
        scale = grad_out.float() / max(P, 1)
        dh = torch.empty_like(h)
        dE = torch.zeros(E.shape, dtype=torch.float32, device=E.device)
        for s in range(0, P, ctx.chunk):
            hc = h[s:s + ctx.chunk]
            g = (hc @ E.T).float()                                           # (c, N) logits
            g.sub_(lse[s:s + ctx.chunk, None]).exp_()                         # softmax
            rows = torch.arange(g.shape[0], device=g.device)
            if ctx.smoothing:
                g.sub_(ctx.smoothing / N)
                g[rows, t[s:s + ctx.chunk]] -= 1 - ctx.smoothing
            else:
                g[rows, t[s:s + ctx.chunk]] -= 1.0
            g.mul_(scale)
            g = g.to(h.dtype)
            dh[s:s + ctx.chunk] = g @ E
            dE += (g.T @ hc).float()
        return dh, dE.to(E.dtype), None, None, None


def chunked_softmax_ce(h: torch.Tensor, E: torch.Tensor, t: torch.Tensor, chunk: int = 1024,
                       smoothing: float = 0.0) -> torch.Tensor:
    """Mean CE of targets ``t`` (P,) in 0..N-1 given states ``h`` (P, d) and class vectors ``E`` (N, d)."""
    dtype = torch.promote_types(h.dtype, E.dtype)
    if torch.is_autocast_enabled(h.device.type):
        get = getattr(torch, "get_autocast_dtype", None)     # torch >= 2.4
        dtype = get(h.device.type) if get else torch.bfloat16
    with torch.autocast(h.device.type, enabled=False):
        return ChunkedSoftmaxCE.apply(h.to(dtype), E.to(dtype), t, chunk, smoothing)
