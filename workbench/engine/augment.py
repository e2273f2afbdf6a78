"""Sequence augmentation for training batches: crop, mask, reorder (a trainer option).

Torch is imported inside the functions, so the options dataclass can be read by the
torch-free config code. Augmentation applies to *training* batches only, where
``targets[:, t] = items[:, t+1]`` at every real position (the next-item layout);
rows that do not follow it are left unchanged by ``reorder``.

- crop: with probability ``crop``, keep only the latest ``U(crop_min_ratio, 1)`` share
  of a row's events (the earlier ones become padding, their targets 0);
- mask: each event's item is dropped to padding with probability ``mask`` (its own
  target is not trained; later positions no longer see it); the latest event is kept;
- reorder: with probability ``reorder``, a random contiguous window of
  ``reorder_ratio`` of the row's events is shuffled (items and actions move together,
  timestamps stay in place, targets are recomputed from the new order).
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.options import option


@dataclass
class AugmentOptions:
    crop: float = option(0.0, help="probability of cropping a training sequence to its latest events", min=0.0,
                         max=1.0)
    crop_min_ratio: float = option(0.6, help="crop keeps at least this share of the events", min=0.05, max=1.0)
    mask: float = option(0.0, help="probability of dropping each event's item from the input", min=0.0, max=0.9)
    reorder: float = option(0.0, help="probability of shuffling a window of a training sequence", min=0.0,
                            max=1.0)
    reorder_ratio: float = option(0.2, help="share of the events in the shuffled window", min=0.0, max=1.0)

    @property
    def active(self) -> bool:
        return self.crop > 0 or self.mask > 0 or self.reorder > 0


def augment_batch(batch, options: AugmentOptions, generator=None):
    """A new :class:`SeqBatch` with crop, then reorder, then mask applied (the input is not modified)."""
    if not options.active:
        return batch
    out = batch.to(batch.items.device)          # shallow copy with the same tensors
    if options.crop > 0:
        out = _crop(out, options, generator)
    if options.reorder > 0 and options.reorder_ratio > 0:
        out = _reorder(out, options, generator)
    if options.mask > 0:
        out = _mask(out, options, generator)
    return out


def _rand(shape, like, generator):
    import torch

    return torch.rand(shape, generator=generator, device="cpu").to(like.device)


def _zero_where(batch, drop, keep_targets: bool = False):
    """Set items (and time, actions) to padding where ``drop`` (B, L); targets too unless keep_targets."""
    import torch

    def z(t):
        return None if t is None else torch.where(drop, torch.zeros_like(t), t)
    batch.items = z(batch.items)
    batch.timestamps = z(batch.timestamps)
    batch.actions = z(batch.actions)
    if not keep_targets:
        batch.targets = z(batch.targets)
        batch.target_timestamps = z(batch.target_timestamps)
        batch.target_actions = z(batch.target_actions)
    return batch


def _crop(batch, o: AugmentOptions, generator):
    import torch

    B, L = batch.items.shape
    n = batch.mask.sum(1)                                             # (B,)
    ratio = o.crop_min_ratio + (1 - o.crop_min_ratio) * _rand((B,), batch.items, generator)
    keep = torch.clamp(torch.ceil(n.float() * ratio).long(), min=1)
    chosen = _rand((B,), batch.items, generator) < o.crop
    keep = torch.where(chosen, keep, n)
    idx = torch.arange(L, device=batch.items.device).unsqueeze(0)
    return _zero_where(batch, idx < (L - keep).unsqueeze(1))


def _mask(batch, o: AugmentOptions, generator):
    B, L = batch.items.shape
    drop = (_rand((B, L), batch.items, generator) < o.mask) & batch.mask
    drop[:, -1] = False                                               # the latest event always stays
    return _zero_where(batch, drop)


def _reorder(batch, o: AugmentOptions, generator):
    import torch

    B, L = batch.items.shape
    items, targets, mask = batch.items, batch.targets, batch.mask
    n = mask.sum(1)
    # rows in next-item layout: targets[t] == items[t+1] wherever both are real
    nxt = torch.cat([items[:, 1:], targets[:, -1:]], dim=1)
    layout_ok = ((nxt == targets) | ~mask).all(1) & (targets[:, -1] > 0)
    w = torch.floor(n.float() * o.reorder_ratio).long()
    chosen = (_rand((B,), items, generator) < o.reorder) & layout_ok & (w >= 2)
    if not bool(chosen.any()):
        return batch
    first = L - n                                                     # first real index
    start = first + torch.floor(_rand((B,), items, generator) * (n - w + 1).clamp(min=1).float()).long()
    # the extended row: L items + the last target; shuffle positions [start, start + w) of it
    ext = torch.cat([items, targets[:, -1:]], dim=1)                   # (B, L+1)
    idx = torch.arange(L + 1, device=items.device).unsqueeze(0).expand(B, -1).float()
    inside = (idx >= start.unsqueeze(1)) & (idx < (start + w).unsqueeze(1)) & chosen.unsqueeze(1)
    key = torch.where(inside, start.unsqueeze(1).float() + _rand((B, L + 1), items, generator)
                      * w.unsqueeze(1).float(), idx)
    perm = torch.argsort(key, dim=1, stable=True)
    ext = ext.gather(1, perm)
    batch.items = ext[:, :L]
    batch.targets = torch.where(batch.items > 0, ext[:, 1:], torch.zeros_like(targets))
    if batch.actions is not None and batch.target_actions is not None:
        ext_a = torch.cat([batch.actions, batch.target_actions[:, -1:]], dim=1).gather(1, perm)
        batch.actions = ext_a[:, :L]
        batch.target_actions = torch.where(batch.items > 0, ext_a[:, 1:], torch.zeros_like(batch.target_actions))
    if batch.target_values is not None:          # value of extended event j = target_values[j - 1]
        nan = torch.full_like(batch.target_values[:, :1], float("nan"))
        ext_v = torch.cat([nan, batch.target_values], dim=1).gather(1, perm)
        batch.target_values = torch.where(batch.items > 0, ext_v[:, 1:], torch.full_like(batch.target_values,
                                                                                          float("nan")))
    return batch


def augment_options_for(trainer_options) -> AugmentOptions | None:
    """The augmentation asked for by the trainer options (``augment_*`` fields), or None when off."""
    o = AugmentOptions(crop=trainer_options.augment_crop, crop_min_ratio=trainer_options.augment_crop_min_ratio,
                       mask=trainer_options.augment_mask, reorder=trainer_options.augment_reorder,
                       reorder_ratio=trainer_options.augment_reorder_ratio)
    return o if o.active else None
