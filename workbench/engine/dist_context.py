"""A rank's view of a run trained by several torchrun processes (:class:`DistContext`), and
``SINGLE``, the context of a run in one process. Used by the trainer and the session; launching
ranks is :mod:`workbench.engine.distributed` (kept apart so that neither imports the other's users).
Torch is imported lazily.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

POLL_STEPS = 16          # ranks agree on a cancel request every this many steps (and after every epoch)
STOP_FLAG = "stop"


@dataclass
class DistContext:
    """Where this process stands among the ranks of a run (the default: one process, rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    control_dir: Path | None = None

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def writer(self) -> bool:
        """Rank 0 alone writes to the workspace."""
        return self.rank == 0

    # ---------------------------------------------------------------- data
    def shard(self, values):
        """This rank's share of a sequence or array: every ``world_size``-th element from ``rank``."""
        return values[self.rank::self.world_size] if self.active else values

    def device_for(self, device):
        """A CUDA device becomes this rank's own GPU (``cuda:LOCAL_RANK``); others are unchanged."""
        import torch
        if not self.active or device.type != "cuda":
            if self.active and device.type not in ("cpu", "cuda"):
                raise ValueError(f"trainer.nproc > 1 runs on CPU or CUDA, not {device.type}")
            return device
        if self.local_rank >= torch.cuda.device_count():
            raise ValueError(f"rank {self.rank} needs GPU {self.local_rank} but {torch.cuda.device_count()} are "
                             "visible: --nproc at most the number of GPUs (or trainer.device = \"cpu\")")
        device = torch.device("cuda", self.local_rank)
        torch.cuda.set_device(device)
        return device

    def wrap(self, module, device):
        """``module`` in DistributedDataParallel (parameters broadcast from rank 0 now)."""
        from torch.nn.parallel import DistributedDataParallel
        return DistributedDataParallel(module, device_ids=[device] if device.type == "cuda" else None,
                                       find_unused_parameters=True)

    # ---------------------------------------------------------------- collectives
    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (pickled; keep tensors on the CPU)."""
        if not self.active:
            return obj
        import torch
        import torch.distributed as dist
        box = [obj]
        dist.broadcast_object_list(box, src=0, device=torch.device("cpu"))
        return box[0]

    def all_sum(self, value):
        """A tensor summed over the ranks (one all-reduce; in place, returned)."""
        if self.active:
            import torch.distributed as dist
            dist.all_reduce(value)
        return value

    def agree(self, should_stop: Callable[[], bool]) -> bool:
        """Rank 0 asks ``should_stop()``; every rank gets its answer (a CPU collective, no device sync)."""
        if not self.active:
            return bool(should_stop())
        return bool(self.broadcast(bool(should_stop()) if self.writer else None))

    def poll_due(self, step: int, since_poll_s: float, every_s: float) -> bool:
        """Whether to poll for a cancel request after step ``step`` (0-based): by time in one
        process; every ``POLL_STEPS`` steps with several (ranks must poll at the same steps)."""
        if not self.active:
            return since_poll_s >= every_s
        return (step + 1) % POLL_STEPS == 0

    def gather_eval(self, parts: dict[str, list], aux: dict[str, list]) -> tuple[dict[str, list], dict[str, list]]:
        """Per-user evaluation arrays of every rank, concatenated in rank order (the same on all ranks)."""
        import numpy as np
        import torch
        import torch.distributed as dist
        mine = ({k: np.concatenate(v) for k, v in parts.items() if v},
                {k: torch.cat(v) for k, v in aux.items() if v})
        everyone: list = [None] * self.world_size
        dist.all_gather_object(everyone, mine)
        out_parts: dict[str, list] = {k: [] for k in parts}
        out_aux: dict[str, list] = {}
        for rank_parts, rank_aux in everyone:
            for k, v in rank_parts.items():
                out_parts.setdefault(k, []).append(v)
            for k, v in rank_aux.items():
                out_aux.setdefault(k, []).append(v)
        return out_parts, out_aux

    def stop_flag_set(self) -> bool:
        """Rank 0's cancel check: the launcher created the stop flag."""
        return self.control_dir is not None and (self.control_dir / STOP_FLAG).exists()


SINGLE = DistContext()
