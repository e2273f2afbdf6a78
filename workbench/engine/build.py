"""A model and its data context built from an experiment config: shared by training and inference.

``build_model_for(ws, cfg)`` loads the dataset, makes the split (and the cold-start training
copy), builds the :class:`DataContext` plugins see and the composed model on the device:
everything both a training session and an inference call need, and nothing only training
needs (no training tensors, validation batches or optimiser; see :mod:`workbench.engine.session`).

``load_trained_model(ws, run_id)`` is that, with a stored run's best weights loaded and the model
in eval mode; ``load_run_weights(ws, run_id)`` reads only those weights (e.g. to warm-start).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from workbench.data.dataset import LoadedDataset, Split, load_dataset, make_split
from workbench.engine import batches as B
from workbench.engine.checkpoint import checkpoint_path, load_checkpoint
from workbench.engine.device import autocast_dtype, resolve_device, seed_everything
from workbench.model.base import DataContext
from workbench.model.compose import ComposedModel, build_model


@dataclass
class BuiltModel:
    """An experiment's model on its device with the data it was built from.

    ``dataset`` / ``split``: the whole dataset and its split (what evaluation uses);
    ``train_dataset`` / ``train_split``: what training sees (a filtered copy when items are
    held out for cold start, else the same objects); ``held_out``: (N+1,) bool or None;
    ``held_out_users``: (U+1,) bool (users without any training event) or None.
    """

    cfg: Any                      # ExperimentConfig
    device: torch.device
    amp_dtype: torch.dtype | None
    dataset: LoadedDataset
    split: Split
    train_dataset: LoadedDataset
    train_split: Split
    held_out: np.ndarray | None
    ctx: DataContext
    model: ComposedModel
    held_out_users: np.ndarray | None = None

    def autocast(self):
        """The run's autocast context (bf16 where the config and the device allow it), else a no-op."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)


def make_split_for(ds: LoadedDataset, cfg) -> Split:
    """The split ``cfg.split`` asks for."""
    if cfg.split.kind == "temporal":
        return make_split(ds, "temporal", valid_frac=cfg.split.valid_frac, test_frac=cfg.split.test_frac)
    return make_split(ds, "loo", valid_users=cfg.split.valid_users, seed=cfg.split.valid_seed)


def build_model_for(ws, cfg, *, device: str | torch.device | None = None,
                    dataset: LoadedDataset | None = None) -> BuiltModel:
    """Seed, load the data, split it, build the context and the model (fresh weights) on the device.

    ``device``: overrides ``cfg.trainer.device``; ``dataset``: an already loaded copy of
    ``cfg.dataset`` (skips reading it again)."""
    t = cfg.trainer
    if t.threads:
        torch.set_num_threads(t.threads)
    seed_everything(t.seed)
    dev = resolve_device(str(device) if device is not None else t.device)
    ds = dataset if dataset is not None else load_dataset(ws, cfg.dataset)
    split = make_split_for(ds, cfg)
    train_ds, train_split, held_out = ds, split, None
    if cfg.split.holdout_items > 0:          # cold start: those items never reach training
        from workbench.data.cold_start import held_out_items, training_without
        held_out = held_out_items(ds.n_items, cfg.split.holdout_items, cfg.split.holdout_seed)
        train_ds, train_split = training_without(ds, split, held_out)
    held_users = None
    if cfg.split.holdout_users > 0:          # new users: those users never reach training
        from workbench.data.cold_start import held_out_users, split_without_users
        held_users = held_out_users(ds.n_users, cfg.split.holdout_users, cfg.split.holdout_seed)
        train_split = split_without_users(train_ds, train_split, held_users)
    if cfg.split.train_users < 1.0:          # few-user training (e.g. fine-tuning after init_from)
        from workbench.data.train_users import restrict_training_users
        train_split = restrict_training_users(train_ds, train_split, cfg.split.train_users, cfg.split.train_users_seed)
    ctx = B.data_context(train_ds, train_split, cfg.model.max_len, workspace=ws, held_out_items=held_out)
    model = build_model(cfg, ctx).to(dev)
    return BuiltModel(cfg, dev, autocast_dtype(dev, t.amp), ds, split, train_ds, train_split, held_out, ctx, model,
                      held_users)


def load_run_weights(ws, run_id: int, device: str | torch.device = "cpu", kind: str = "best") -> dict[str, Any]:
    """The model state dict of a stored run's ``kind`` checkpoint (best | last), on ``device``.

    FileNotFoundError when the run has none (not trained yet, or its files were removed)."""
    path = checkpoint_path(ws, run_id, kind)
    if path is None:
        from workbench.store import runs
        raise FileNotFoundError(f"run {run_id} has no {kind} checkpoint (status {runs.require(ws, run_id)['status']})")
    return load_checkpoint(path, device)["model"]


def load_trained_model(ws, run_id: int, device: str = "cpu") -> BuiltModel:
    """Run ``run_id``'s model with its best weights, in eval mode, for inference.

    Refuses (:class:`workbench.store.runs.DataChanged`) when the run's dataset was removed or
    now holds other data than it was trained on."""
    from workbench.engine.config import run_config
    from workbench.store import runs
    row, cfg = run_config(ws, run_id)
    runs.check_data(ws, row)          # never serve a model on data it was not trained on
    dev = resolve_device(str(device))
    cfg.trainer.device = str(dev)
    weights = load_run_weights(ws, run_id, dev)          # before building: no checkpoint fails fast
    built = build_model_for(ws, cfg, device=dev)
    built.model.load_state_dict(weights)
    built.model.eval()
    return built
