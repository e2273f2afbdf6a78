"""One training run's live objects: the built model and data, training tensors, validation batches,
the trainer, and the evaluation of validation and test (imports torch).

The model and its data context come from :func:`workbench.engine.build.build_model_for` (shared
with inference); orchestration (run rows, status) is :mod:`workbench.engine.runner`.
"""

from __future__ import annotations

import json
from typing import Callable, Iterable

import torch

from workbench.engine import batches as B
from workbench.engine.build import build_model_for
from workbench.engine.checkpoint import checkpoint_path, load_checkpoint, save_checkpoint
from workbench.engine.device import resolve_device
from workbench.engine.evaluate import build_evaluators
from workbench.engine.recorder import RunRecorder
from workbench.engine.trainer import Trainer
from workbench.events import Emitter


class RunSession:
    def __init__(self, ws, run_id: int, cfg, *, listeners: Iterable[Callable] = (),
                 should_stop: Callable[[], bool] = lambda: False, record: bool = True, dist=None,
                 token: int | None = None):
        from workbench.engine.dist_context import SINGLE
        self.ws, self.run_id, self.cfg = ws, run_id, cfg
        self.dist = dist = dist or SINGLE          # torchrun ranks: see workbench.engine.distributed
        t = cfg.trainer
        self.built = built = build_model_for(ws, cfg, device=dist.device_for(resolve_device(t.device)))
        self.device, self.amp_dtype = built.device, built.amp_dtype
        self.dataset, self.split, self.held_out = built.dataset, built.split, built.held_out
        self.ctx, self.model = built.ctx, built.model
        self.record = record
        self.token = token      # the run owner lease: fences every record and checkpoint of this session
        self.last_eval = self.best_valid = None   # EvalResults kept for the per-user metrics
        # the recorder is required: a write it cannot make (lease lost, disk full) stops the run
        recorder = [RunRecorder(ws, run_id, token=token)] if record else []
        self.emitter = Emitter(recorder + list(listeners) + [self._keep_best_valid], required=recorder)
        self.evaluators = build_evaluators(cfg.evaluators)
        self.train = B.training_windows(built.train_dataset, built.train_split, cfg.model.max_len, t.train_windows)
        self.valid = self.eval_cases(self.split.valid_users, self.split.valid_pos)
        self.trainer = Trainer(self.model, cfg, self.train, self.valid, device=self.device, amp_dtype=self.amp_dtype,
                               emitter=self.emitter, evaluate=self.evaluate, save=self.save, should_stop=should_stop,
                               dist=dist)

    def save(self, kind: str, epoch: int, state: dict) -> None:
        if self.dist.writer:             # rank 0 alone writes checkpoints
            save_checkpoint(self.ws, self.run_id, kind, epoch, state, token=self.token)

    def eval_cases(self, users, positions):
        """Evaluation batches of these (user, position) cases; with several ranks, this rank's share."""
        batches = B.eval_batches(self.dataset, self.dist.shard(users), self.dist.shard(positions),
                                 self.cfg.model.max_len, self.cfg.trainer.eval_batch_size)
        return [b.pin_memory() for b in batches] if self.device.type == "cuda" else batches

    def evaluate(self, batches):
        from workbench.engine.evaluate import evaluate
        e = self.cfg.evaluation
        self.model.eval()
        with torch.no_grad(), self.trainer.autocast():
            result = evaluate(self.model.encode, self.model.score, batches, num_items=self.dataset.n_items,
                              item_popularity=self.ctx.item_popularity.numpy(), evaluators=self.evaluators,
                              exclude_seen=e.exclude_seen, mode=e.mode, num_negatives=e.num_negatives,
                              negative_sampling=e.negative_sampling, seed=self.cfg.trainer.seed, device=self.device,
                              auxiliary=(self.model.eval_outputs, self.model.eval_metrics),
                              score_table=self.model.score_table,
                              gather=self.dist.gather_eval if self.dist.active else None,
                              action_names=self.dataset.action_names)
            self.last_eval = result
            return result

    def _keep_best_valid(self, event) -> None:
        """Listener: the validation result of the best epoch so far (for its per-user metrics)."""
        if event.kind == "epoch_finished" and event.data.get("best_epoch") == event.data.get("epoch"):
            self.best_valid = self.last_eval

    def store_user_metrics(self, test) -> None:
        """Per-user metrics of the best epoch's validation (re-evaluated when a resume lost it) and of ``test``."""
        from workbench.engine.per_user import per_user_metrics
        from workbench.store.user_metrics import save_split
        if self.best_valid is None:
            self.best_valid = self.evaluate(self.valid)
        for split, result in (("valid", self.best_valid), ("test", test)):
            save_split(self.ws, self.run_id, split, per_user_metrics(self.evaluators, result.rankings, result.users),
                       token=self.token)

    def run(self, resume: bool = False) -> tuple[str, dict, dict]:
        """-> (status, test metrics, test metrics by history-length group)."""
        cfg, tr = self.cfg, self.trainer
        last = None
        if resume:
            last, best, name = self.dist.broadcast(self._checkpoints_to_resume())
            if last is not None:
                tr.restore(last, best)
                self.emitter.emit("log", message=f"resumed after epoch {tr.state.epoch} from its last checkpoint ({name})")
        if last is None and cfg.init_from is not None:      # a resumed run keeps its own weights
            self.warm_start()
        num_params = sum(p.numel() for p in self.model.parameters())
        self.emitter.emit("run_started", run_id=self.run_id, device=str(self.device),
                          epochs=cfg.trainer.epochs if self.model.trainable else 0,
                          steps_per_epoch=tr.steps_per_epoch, num_params=num_params,
                          amp=str(self.amp_dtype) if self.amp_dtype else "off")
        if tr.sparse_tables:
            names = [f"{n} ({m.num_embeddings:,} x {m.embedding_dim})" for n, m in self.model.named_modules()
                     if m in tr.sparse_tables]
            self.emitter.emit("log", message="row-sparse tables (trainer.sparse_tables): " + ", ".join(names))
        if self.model.trainable:
            status = tr.fit()
            if status == "cancelled":
                return status, {}, {}
            if tr.best_weights is not None:
                self.model.load_state_dict(tr.best_weights)
        else:
            result = self.best_valid = self.evaluate(self.valid)
            self.emitter.emit("epoch_finished", epoch=0, train_loss=None, metrics=dict(result.metrics),
                              wall_time=result.forward_s + result.ranking_s, best_epoch=0, lr=0.0)
        result = self.evaluate(self.eval_cases(self.split.test_users, self.split.test_pos))
        if self.record:
            self.store_user_metrics(result)
        elif self.dist.active and self.best_valid is None:
            self.best_valid = self.evaluate(self.valid)   # rank 0 re-evaluates it in store_user_metrics: take part
        metrics = {**result.metrics, **self.cold_start_metrics(result), "forward_s": result.forward_s,
                   "ranking_s": result.ranking_s, "num_users": result.num_users}
        groups = {"groups": result.groups, "group_bounds": list(result.group_bounds),
                  "group_sizes": result.group_sizes}
        self.emitter.emit("log", message="test metrics by history length: " + json.dumps(result.groups), **groups)
        if not self.model.trainable:
            self.save("best", 0, {"model": self.model.state_dict(), "train_state": tr.state.as_dict()})
        return "completed", metrics, groups

    def warm_start(self) -> dict:
        """``init_from``: load a stored run's weights where they fit; the report goes to the run's events."""
        from workbench.engine.transfer import summary_lines, warm_start
        report = warm_start(self.ws, self.cfg, self.model, self.dataset)
        self.emitter.emit("log", message="\n".join(summary_lines(report)), init_from=report)
        return report

    def _checkpoints_to_resume(self):
        """(last, best or None, file name) to resume from, or (None, None, None); read by rank 0 only
        (on the CPU when other ranks receive them)."""
        if not self.dist.writer:
            return None, None, None
        last = checkpoint_path(self.ws, self.run_id, "last")
        if last is None:
            return None, None, None
        where = "cpu" if self.dist.active else self.device
        best = checkpoint_path(self.ws, self.run_id, "best")
        return load_checkpoint(last, where), (load_checkpoint(best, where) if best else None), last.name

    def cold_start_metrics(self, result) -> dict:
        """With held-out items: the metrics over users whose target is a held-out item (``cold_*``)
        and over the others (``warm_*``); with held-out users: over those users (``new_*``) and the
        others (``known_*``); and how many users each group has (``cold_num_users``, ...)."""
        groups = []
        if self.held_out is not None:
            cold = self.held_out[result.rankings.targets]
            groups += [("cold_", cold), ("warm_", ~cold)]
        if self.built.held_out_users is not None:
            new = self.built.held_out_users[result.users]
            groups += [("new_", new), ("known_", ~new)]
        from workbench.engine.evaluate import compute_metrics, subset_rankings
        out = {}
        for prefix, mask in groups:
            out[prefix + "num_users"] = int(mask.sum())
            if mask.any():
                sub = compute_metrics(self.evaluators, subset_rankings(result.rankings, mask))
                out.update({prefix + k: v for k, v in sub.items()})
        return out

