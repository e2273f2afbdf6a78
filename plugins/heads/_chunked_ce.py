"""Fused softmax cross-entropy over all items: the (P, N) logits are never stored.

The loss is the last op of the graph, so its gradient is known in the forward pass up to
the incoming scalar: for each chunk of positions the forward computes the logits, one
softmax, the loss and, from the same in-cache chunk, the gradients dh = (softmax - onehot) E
and dE += (softmax - onehot)^T h. Backward only scales the two stored (P, d) / (N, d)
gradients. Against autograd's plain path (logits, log-softmax, its backward, the casts to
and from bf16 and the zero-filled (P, N) gradient) that is one elementwise pass instead of
about six over hundreds of MB, and three matmuls instead of four when the logits would be
recomputed.

The log-sum-exp comes out of the softmax itself: the largest probability is 1 / sum(exp(x - m))
at the row maximum m, so lse = m - log(max p) exactly, with no second exp pass and no
underflow (max p >= 1/N).
"""

from __future__ import annotations

import torch


class FusedSoftmaxCE(torch.autograd.Function):
    """loss = mean_p [ logsumexp_n(h_p . E_n) - h_p . E_{t_p} ];  h (P, d), E (N, d), t (P,) in 0..N-1.

    The chunk's buffers are allocated once per call and reused (fresh multi-MB tensors per chunk
    cost page faults that were a third of the time on CPU)."""

    @staticmethod
    def forward(ctx, h: torch.Tensor, E: torch.Tensor, t: torch.Tensor, chunk: int, smoothing: float):
        P, N = h.shape[0], E.shape[0]
        need_h, need_E = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        dh = torch.empty_like(h) if need_h else None
        dE = torch.zeros(E.shape, dtype=torch.float32, device=E.device) if need_E else None
        total = torch.zeros((), dtype=torch.float32, device=h.device)
        c = max(1, min(chunk, P))
        logits = torch.empty(c, N, dtype=h.dtype, device=h.device)
        fp32 = logits if h.dtype == torch.float32 else torch.empty(c, N, dtype=torch.float32, device=h.device)
        probs = torch.empty(c, N, dtype=torch.float32, device=h.device)
        grads = probs if h.dtype == torch.float32 else torch.empty(c, N, dtype=h.dtype, device=h.device)
        ET = E.T
        for s in range(0, P, c):
            hc, tc = h[s:s + c], t[s:s + c]
            k = hc.shape[0]
            lg, x, p = logits[:k], fp32[:k], probs[:k]
            torch.mm(hc, ET, out=lg)
            if x is not lg:
                x.copy_(lg)
            torch.softmax(x, 1, out=p)
            lse = x.amax(1) - p.amax(1).log()                            # m - log(max p) = logsumexp
            nll = lse - x.gather(1, tc[:, None]).squeeze(1)
            if smoothing:
                nll = (1 - smoothing) * nll + smoothing * (lse - x.mean(1))
            total += nll.sum()
            if not (need_h or need_E):
                continue
            if smoothing:
                p.sub_(smoothing / N)
            p[torch.arange(k, device=p.device), tc] -= 1.0 - smoothing   # softmax - (smoothed) one-hot
            g = grads[:k]
            if g is not p:
                g.copy_(p)
            if need_h:
                torch.mm(g, E, out=dh[s:s + k])
            if need_E:
                dE.add_(g.T @ hc)
        ctx.inv = 1.0 / max(P, 1)
        ctx.save_for_backward(dh, None if dE is None else dE.to(E.dtype))
        return total * ctx.inv

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        dh, dE = ctx.saved_tensors
        scale = grad_out * ctx.inv
        return (None if dh is None else dh * scale.to(dh.dtype),
                None if dE is None else dE * scale.to(dE.dtype), None, None, None)


def chunked_softmax_ce(h: torch.Tensor, E: torch.Tensor, t: torch.Tensor, chunk: int = 512,
                       smoothing: float = 0.0) -> torch.Tensor:
    """Mean CE of targets ``t`` (P,) in 0..N-1 given states ``h`` (P, d) and class vectors ``E`` (N, d).

    Under autocast the matmuls run in the autocast dtype (bf16), the softmax and the loss in fp32."""
    dtype = torch.promote_types(h.dtype, E.dtype)
    if torch.is_autocast_enabled(h.device.type):
        get = getattr(torch, "get_autocast_dtype", None)     # torch >= 2.4
        dtype = get(h.device.type) if get else torch.bfloat16
    with torch.autocast(h.device.type, enabled=False):
        return FusedSoftmaxCE.apply(h.to(dtype), E.to(dtype), t, chunk, smoothing)
