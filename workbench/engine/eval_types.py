"""Types shared by the evaluation data builder (engine) and the ranking/metrics driver."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from workbench.model.base import SeqBatch


@dataclass
class EvalBatch:
    """B evaluation cases (one held-out target each).

    - ``batch``: the histories as a :class:`SeqBatch` (left-padded, truncated to
      max_len; ``targets`` all 0). ``batch.target_timestamps[:, -1]`` is the time of
      the held-out event where known (request context).
    - ``target_items`` (B,) long: the held-out item.
    - ``seen_rows`` / ``seen_items`` (S,) long: every (row, item) pair of the user's
      *full* history (not only the max_len window), excluded from the ranking
      when ``exclude_seen`` is on. The held-out target is never in this list.
    - ``history_length`` (B,) long: full history length (for per-group metrics).
    - ``users`` (B,) long.
    """

    batch: SeqBatch
    target_items: torch.Tensor
    seen_rows: torch.Tensor
    seen_items: torch.Tensor
    history_length: torch.Tensor
    users: torch.Tensor

    def to(self, device) -> "EvalBatch":
        return EvalBatch(self.batch.to(device), *(t.to(device, non_blocking=True) for t in (
            self.target_items, self.seen_rows, self.seen_items, self.history_length, self.users)))

    def pin_memory(self) -> "EvalBatch":
        """A copy in page-locked memory (built once per run, copied to CUDA without blocking the host)."""
        return EvalBatch(self.batch.pin_memory(), *(t.pin_memory() for t in (
            self.target_items, self.seen_rows, self.seen_items, self.history_length, self.users)))


NEG_INF = float("-inf")


@dataclass
class BatchRanking:
    """Ranking result for one batch (tensors on the scoring device).

    ``target_rank`` (B,) long, ``topk`` (B, K) long (0 = no item),
    ``num_candidates`` (B,) long.
    """

    target_rank: torch.Tensor
    topk: torch.Tensor
    num_candidates: torch.Tensor
