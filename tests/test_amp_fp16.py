"""``trainer.amp = "fp16"``: float16 autocast with loss scaling (GPUs without bf16). Runs on the CPU
here (torch's CPU autocast and GradScaler take float16 too), through the real engine on demo data."""

from __future__ import annotations

import math

import torch

from workbench.engine.checkpoint import checkpoint_path, load_checkpoint
from workbench.engine.device import autocast_dtype


def test_fp16_autocast_trains_with_a_grad_scaler_saved_in_the_checkpoint(tmp_path):
    from workbench.data.demo import DemoSpec, import_demo
    from workbench.engine.runner import run_experiment
    from workbench.store import open_workspace

    assert autocast_dtype(torch.device("cpu"), "fp16") == torch.float16
    ws_path = tmp_path / "ws.db"
    with open_workspace(ws_path, create=True) as ws:
        import_demo(ws, DemoSpec(users=120, items=100))
    config = {"name": "fp16", "dataset": "demo", "model": {"dim": 16, "max_len": 20},
              "views": [{"type": "sasrec", "blocks": 1, "heads": 1}], "head": {"type": "softmax_ce"},
              "evaluators": [{"type": "ranking", "ks": [10]}],
              "trainer": {"epochs": 2, "batch_size": 32, "lr": 3e-3, "patience": 0, "device": "cpu", "amp": "fp16"}}
    run_id, metrics = run_experiment(ws_path, config)
    assert 0.0 <= metrics["NDCG@10"] <= 1.0
    with open_workspace(ws_path) as ws:
        losses = [r[0] for r in ws.db.execute("SELECT train_loss FROM epoch_metrics WHERE run_id = ? ORDER BY epoch",
                                              [run_id])]
        last = load_checkpoint(checkpoint_path(ws, run_id, "last"))
    assert len(losses) == 2 and all(math.isfinite(x) for x in losses) and losses[1] < losses[0]
    assert last["grad_scaler"]["scale"] > 0          # the loss scaler ran and is resumed with the run
