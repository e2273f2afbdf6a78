"""The training loop: AdamW (row-sparse for large embedding tables), warm-up + constant/cosine LR, clipping, early stopping, checkpoints.

Hot loop: the epoch's (R, L) tensors are built once (see :mod:`workbench.engine.batches`) and
indexed with a seeded permutation; the loss is accumulated on the device and synchronised
once per epoch (plus one read per throttled progress event, about once a second). On CUDA each
batch is staged in pinned memory and copied without blocking the host.

With several ranks (``dist``, see :mod:`workbench.engine.distributed`) the model runs inside
DistributedDataParallel and each rank trains on its share of every global batch.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from workbench.engine.augment import augment_batch
from workbench.engine.batches import SequenceTensors, TrainingWindows, epoch_batches
from workbench.engine.eval_types import EvalBatch
from workbench.engine.sparse_tables import RowSparseAdamW, clip_grad_norm_, sparse_tables
from workbench.events import Emitter
from workbench.options import ConfigError

PROGRESS_EVERY_S = 1.0


@dataclass
class TrainState:
    """What a resumed run needs besides the weights: progress and the best-so-far."""

    epoch: int = 0                   # last completed epoch
    best_metric: float = -math.inf
    best_epoch: int = 0
    bad_evals: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "best_metric": self.best_metric, "best_epoch": self.best_epoch,
                "bad_evals": self.bad_evals}


def lr_lambda(warmup: int, total: int, schedule: str) -> Callable[[int], float]:
    def f(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        if schedule == "cosine" and total > warmup:
            progress = min(1.0, (step - warmup) / max(1, total - warmup))
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        return 1.0
    return f


def memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    except Exception:  # noqa: BLE001 - not available on every OS
        return 0.0


class Trainer:
    """Trains ``model`` (a :class:`workbench.model.compose.ComposedModel`) on ``train`` rows.

    ``save(kind, epoch, state)`` persists a checkpoint (kind: "last" | "best"); ``evaluate(batches)``
    returns an EvalResult for the validation cases. ``should_stop()`` is polled at most once a second during
    an epoch, and after every epoch that is not the last (a run that stops early completes).
    """

    def __init__(self, model, cfg, train: SequenceTensors | TrainingWindows, valid: list[EvalBatch], *, device: torch.device,
                 amp_dtype: torch.dtype | None, emitter: Emitter, evaluate: Callable, save: Callable,
                 should_stop: Callable[[], bool] = lambda: False, dist=None):
        from workbench.engine.dist_context import SINGLE
        self.model, self.cfg, self.train, self.valid = model, cfg, train, valid
        self.dist = dist or SINGLE
        self.device, self.amp_dtype, self.emitter = device, amp_dtype, emitter
        self.evaluate_fn, self.save, self.should_stop = evaluate, save, should_stop
        t = cfg.trainer
        self.steps_per_epoch = max(1, math.ceil(len(train) / t.batch_size))
        params = [p for p in model.parameters() if p.requires_grad]
        decay = [p for p in params if p.ndim >= 2]
        no_decay = [p for p in params if p.ndim < 2]
        groups = [{"params": decay, "weight_decay": t.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        # large embedding tables: row-sparse gradients and lazy row updates (workbench.engine.sparse_tables)
        self.sparse_tables = sparse_tables(model, t.sparse_tables, distributed=self.dist.active) if params else []
        if self.sparse_tables:
            self.optimizer = RowSparseAdamW(groups, lr=t.lr, betas=tuple(t.betas))
        else:
            self.optimizer = torch.optim.AdamW(groups, lr=t.lr, betas=tuple(t.betas),
                                               fused=device.type == "cuda" or None) if params else None
        # float16 needs loss scaling; with the fused CUDA AdamW the scaler's inf check stays on the device
        self.scaler = torch.amp.GradScaler(device.type) if amp_dtype == torch.float16 and params else None
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lr_lambda(t.warmup_steps, t.epochs * self.steps_per_epoch, t.schedule)) \
            if self.optimizer else None
        self.state = TrainState()
        self.best_weights: dict[str, torch.Tensor] | None = None
        from workbench.engine.adversarial import adversary_for
        from workbench.engine.augment import augment_options_for
        self.augment = augment_options_for(t)          # None when off
        self.adversary = adversary_for(model, t)       # None when off
        self.cancelled = False
        self.loss_fn = model.loss if self.adversary is None else self.adversary.loss
        if self.dist.active and self.optimizer is not None:
            self.loss_fn = self.dist.wrap(_LossOf(model), device)
        self.pin = device.type == "cuda"

    # ------------------------------------------------------------ state
    def full_state(self) -> dict[str, Any]:
        state = {"model": self.model.state_dict(), "train_state": self.state.as_dict(),
                 "torch_rng": torch.get_rng_state()}
        if self.optimizer is not None:
            state["optimizer"] = self.optimizer.state_dict()
            state["scheduler"] = self.scheduler.state_dict()
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        if self.scaler is not None:
            state["grad_scaler"] = self.scaler.state_dict()
        return state

    def restore(self, last: dict[str, Any], best: dict[str, Any] | None) -> None:
        self.model.load_state_dict(last["model"])
        if self.optimizer is not None and "optimizer" in last:
            self.optimizer.load_state_dict(last["optimizer"])
            self.scheduler.load_state_dict(last["scheduler"])
        s = last["train_state"]
        self.state = TrainState(int(s["epoch"]), float(s["best_metric"]), int(s["best_epoch"]), int(s["bad_evals"]))
        torch.set_rng_state(last["torch_rng"].cpu())
        if "cuda_rng" in last and self.device.type == "cuda":
            torch.cuda.set_rng_state(last["cuda_rng"].cpu(), self.device)
        if self.scaler is not None and "grad_scaler" in last:
            self.scaler.load_state_dict(last["grad_scaler"])
        if best is not None:
            self.best_weights = best["model"]

    def autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    @property
    def row_targets(self) -> torch.Tensor:
        """(R,) targets per training row (for weighting the ranks' shares of a batch)."""
        return self.train.row_targets

    # ------------------------------------------------------------ loop
    def fit(self) -> str:
        """Train until ``epochs``, early stop or cancel. Returns "completed" or "cancelled"."""
        t = self.cfg.trainer
        last_poll = time.monotonic()
        while self.state.epoch < t.epochs:
            epoch = self.state.epoch + 1
            self.emitter.emit("epoch_started", epoch=epoch)
            started = time.perf_counter()
            loss_sum, steps_done, last_poll = self._epoch(epoch, last_poll)
            if self.cancelled:
                # The partial epoch is discarded: the "last" checkpoint of the last completed epoch
                # (or none, before the first) is exactly where an uninterrupted run stood, so a resume
                # re-runs this epoch from there and ends bit-identical to a run never cancelled.
                return "cancelled"
            train_loss = float(self.dist.all_sum(loss_sum)) / max(1, steps_done)
            if not math.isfinite(train_loss):
                raise FloatingPointError(f"epoch {epoch}: training loss is {train_loss} (lower trainer.lr?)")
            metrics: dict[str, float] = {"train_s": time.perf_counter() - started}   # training part of the epoch
            improved = False
            if epoch % t.eval_every == 0 or epoch == t.epochs:
                result = self.evaluate_fn(self.valid)
                metrics.update(result.metrics)
                metrics["forward_s"], metrics["ranking_s"] = result.forward_s, result.ranking_s
                improved = self._track(epoch, metrics)
            wall = time.perf_counter() - started
            self.state.epoch = epoch
            lr = self.optimizer.param_groups[0]["lr"] if self.optimizer else 0.0
            self.emitter.emit("epoch_finished", epoch=epoch, train_loss=train_loss, metrics=metrics,
                              wall_time=wall, best_epoch=self.state.best_epoch, lr=lr)
            if improved:
                self.save("best", epoch, {"model": self.model.state_dict(), "train_state": self.state.as_dict()})
            self.save("last", epoch, self.full_state())
            if t.patience and self.state.bad_evals >= t.patience:
                self.emitter.emit("log", message=f"early stop at epoch {epoch}: {t.monitor} did not improve for "
                                  f"{t.patience} evaluations (best {self.state.best_metric:.4f} at epoch "
                                  f"{self.state.best_epoch})")
                break
            if epoch < t.epochs and self.dist.agree(self.should_stop):   # also between epochs: an epoch can be shorter than a poll
                self.cancelled = True
                return "cancelled"
        return "completed"

    def _track(self, epoch: int, metrics: dict[str, float]) -> bool:
        monitor = self.cfg.trainer.monitor
        if monitor not in metrics:
            known = ", ".join(k for k in metrics if not k.endswith("_s"))
            raise ConfigError(f"trainer.monitor: {monitor!r} is not a validation metric (got: {known})")
        value = metrics[monitor]
        if value > self.state.best_metric:
            self.state.best_metric, self.state.best_epoch, self.state.bad_evals = value, epoch, 0
            self.best_weights = copy.deepcopy(self.model.state_dict())
            return True
        self.state.bad_evals += 1
        return False

    def _clip(self, clip: float) -> None:
        if self.sparse_tables:        # torch's clip_grad_norm_ rejects sparse gradients
            clip_grad_norm_(self.model.parameters(), clip)
        else:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)

    def _backward_and_step(self, loss: torch.Tensor) -> None:
        clip = self.cfg.trainer.clip_norm
        if self.scaler is None:
            loss.backward()
            if clip > 0:
                self._clip(clip)
            self.optimizer.step()
            return
        self.scaler.scale(loss).backward()
        if clip > 0:
            self.scaler.unscale_(self.optimizer)
            self._clip(clip)
        self.scaler.step(self.optimizer)     # skipped when the scaled gradients overflowed
        self.scaler.update()

    def _epoch(self, epoch: int, last_poll: float):
        t = self.cfg.trainer
        self.model.train()
        gen = torch.Generator().manual_seed(t.seed * 1_000_003 + epoch)
        batches = epoch_batches(self.train.lengths, t.batch_size, gen, by_length=t.length_buckets)
        dist, world = self.dist, self.dist.world_size
        if dist.active:       # dropout etc. differ between ranks, reproducibly (also on resume)
            torch.manual_seed((t.seed * 1_000_003 + epoch) * 1009 + dist.rank)
        loss_sum = torch.zeros((), device=self.device)      # the epoch's loss (this rank's share of it)
        shown_sum = torch.zeros((), device=self.device) if dist.active else loss_sum   # this rank's own losses
        last_emit, epoch_start, steps_done = time.monotonic(), time.monotonic(), 0
        targets_per_batch = self.train.num_targets / max(1, len(batches))
        for step, rows in enumerate(batches):
            mine = dist.shard(rows)
            if len(mine) == 0:                # a last batch smaller than the ranks: take part with weight 0
                mine = rows[:1]
            batch = self.train.batch(mine, trim=t.length_buckets)
            # Each loss is a mean over its batch's targets. Bucketed batches hold 2k to 25k targets, so
            # a batch is weighted by its share of targets to keep every target's weight what it is in
            # mixed batches; a rank's part of a global batch is weighted by its share of the batch's
            # targets (x world: DDP averages the ranks' gradients). Counted on the CPU: no device sync.
            share, weight = 1.0, 1.0
            if dist.active:
                n_mine = float((batch.targets > 0).sum()) if len(dist.shard(rows)) else 0.0
                n_all = float(self.row_targets[rows].sum())
                share = n_mine / max(n_all, 1.0)
                weight = world * n_mine / (targets_per_batch if t.length_buckets else max(n_all, 1.0))
            elif t.length_buckets:
                weight = float((batch.targets > 0).sum()) / targets_per_batch
            if self.augment is not None:     # on the CPU copy: its random draws are CPU ones, and no device sync
                batch = augment_batch(batch, self.augment, gen)
            if self.pin:
                batch = batch.pin_memory()
            batch = batch.to(self.device)
            with self.autocast():
                loss = self.loss_fn(batch)
            self.optimizer.zero_grad(set_to_none=True)
            self._backward_and_step(loss * weight if weight != 1.0 else loss)
            self.scheduler.step()
            if dist.active:
                loss_sum += loss.detach().float() * share
                shown_sum += loss.detach().float()
            else:
                loss_sum += loss.detach().float()
            steps_done += 1
            now = time.monotonic()
            if dist.writer and (now - last_emit >= PROGRESS_EVERY_S or step == self.steps_per_epoch - 1):
                last_emit = now
                rate = steps_done * t.batch_size / max(1e-9, now - epoch_start)
                left = (self.steps_per_epoch - steps_done) + (t.epochs - epoch) * self.steps_per_epoch
                self.emitter.emit("step", epoch=epoch, step=steps_done, steps=self.steps_per_epoch,
                                  loss=float(shown_sum) / steps_done, samples_per_s=rate,
                                  eta_s=left * t.batch_size / max(rate, 1e-9), memory_mb=memory_mb(self.device))
            if dist.poll_due(step, now - last_poll, PROGRESS_EVERY_S):
                last_poll = now
                if dist.agree(self.should_stop):
                    self.cancelled = True
                    break
        return loss_sum, steps_done, last_poll


class _LossOf(torch.nn.Module):
    """``model.loss`` as a module's forward, so DistributedDataParallel can wrap it."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, batch):
        return self.model.loss(batch)
