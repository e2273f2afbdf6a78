"""Row-sparse training of large embedding tables: a step's cost independent of the catalogue.

With dense gradients every optimiser step reads and writes the whole item table four times
(weight, gradient, two Adam moments): at 4M items x d 64 that is ~1 GB per tensor and most of a
CPU step. ``trainer.sparse_tables`` ("auto" by default) switches every ``nn.Embedding`` with at
least :data:`AUTO_MIN_ROWS` rows ("auto") or every one of at least 2 rows ("on") to sparse
gradients, marks its weight for :func:`workbench.model.item_rows.gather_rows`, and trains with
:class:`RowSparseAdamW`:

- a parameter whose gradient is dense gets exactly AdamW's update (decoupled weight decay);
- a parameter whose gradient is sparse (only the rows the batch read) gets the *lazy* Adam
  update of those rows alone: their moments and weights move, with the bias correction of the
  parameter's step count, and weight decay applies to those rows only; rows not read keep their
  weights and moments (dense AdamW would still move them by their old momentum). This is what
  TensorFlow's LazyAdam and torch's SparseAdam do.

A table used densely somewhere in the loss (a full-softmax head multiplies the whole table)
gets a dense gradient and the dense update: correct, only not faster. Gradient clipping uses
:func:`clip_grad_norm_` (torch's rejects sparse gradients). Several ranks (DistributedDataParallel)
keep dense gradients: "auto" is off there and "on" is refused.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from workbench.model.item_rows import SPARSE_ROWS_MARK

AUTO_MIN_ROWS = 200_000     # "auto": tables of at least this many rows train row-sparse


def sparse_tables(model: nn.Module, mode: str, *, distributed: bool = False) -> list[nn.Embedding]:
    """Switch the model's large embedding tables to sparse gradients (``mode``: auto, on, off);
    returns the tables switched (empty: train dense as before)."""
    if mode == "off" or (mode == "auto" and distributed):
        return []
    if distributed:
        from workbench.options import ConfigError
        raise ConfigError("trainer.sparse_tables = \"on\" does not work with several ranks (nproc > 1): "
                          "use \"auto\" or \"off\"")
    least = AUTO_MIN_ROWS if mode == "auto" else 2
    tables = [m for m in model.modules() if isinstance(m, nn.Embedding) and m.num_embeddings >= least
              and m.weight.requires_grad and m.max_norm is None]
    for m in tables:
        m.sparse = True
        setattr(m.weight, SPARSE_ROWS_MARK, True)
    return tables


class RowSparseAdamW(torch.optim.Optimizer):
    """AdamW for dense gradients, lazy (touched rows only) Adam with decoupled weight decay for
    sparse ones. Options as ``torch.optim.AdamW`` (lr, betas, eps, weight_decay); works on any device."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                step = state["step"]
                step_size = lr / (1 - b1 ** step)
                bc2_sqrt = math.sqrt(1 - b2 ** step)
                m, v = state["exp_avg"], state["exp_avg_sq"]
                g = p.grad
                if g.is_sparse and g.sparse_dim() == 1:      # rows of a table (an embedding's gradient)
                    self._rows(p, g.coalesce(), m, v, lr, b1, b2, eps, wd, step_size, bc2_sqrt)
                    continue
                if g.is_sparse:
                    g = g.to_dense()
                if wd:
                    p.mul_(1 - lr * wd)
                m.lerp_(g, 1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                p.addcdiv_(m, (v.sqrt() / bc2_sqrt).add_(eps), value=-step_size)
        return loss

    @staticmethod
    def _rows(p, grad, m, v, lr, b1, b2, eps, wd, step_size, bc2_sqrt) -> None:
        rows, g = grad.indices()[0], grad.values()
        if rows.numel() == 0:
            return
        m_rows = m.index_select(0, rows).lerp_(g, 1 - b1)
        v_rows = v.index_select(0, rows).mul_(b2).addcmul_(g, g, value=1 - b2)
        m.index_copy_(0, rows, m_rows)
        v.index_copy_(0, rows, v_rows)
        w = p.index_select(0, rows)
        if wd:
            w.mul_(1 - lr * wd)
        w.addcdiv_(m_rows, (v_rows.sqrt() / bc2_sqrt).add_(eps), value=-step_size)
        p.index_copy_(0, rows, w)


def clip_grad_norm_(params, max_norm: float) -> torch.Tensor:
    """``torch.nn.utils.clip_grad_norm_`` (L2, same clip coefficient) that also takes sparse gradients
    (coalesced first, so a row read twice counts once with its summed gradient)."""
    grads = []
    for p in params:
        if p.grad is None:
            continue
        if p.grad.is_sparse:
            p.grad = p.grad.coalesce()
            grads.append(p.grad.values())
        else:
            grads.append(p.grad)
    if not grads:
        return torch.zeros(())
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads]))
    coef = (max_norm / (total + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef.to(g.dtype))
    return total
