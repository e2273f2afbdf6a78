"""Trainer options on demo-data batches: sequence augmentation (crop, mask, reorder) and
adversarial embedding perturbation (FGSM / PGD) on a composed multi-view model."""

import dataclasses
import json

import pytest
import torch

from mv_data import build, demo_slice, make_batch
from workbench.engine.adversarial import AdversarialOptions, EmbeddingAdversary
from workbench.engine.augment import AugmentOptions, augment_batch


@pytest.fixture(scope="module")
def data():
    ctx, seqs, times, acts = demo_slice(n_users=30, max_len=25, actions=True)
    batch = make_batch(ctx, seqs, times, list(range(1, 17)), action_seqs=acts)
    return ctx, batch


def _next_item_layout_holds(b):
    nxt = torch.cat([b.items[:, 1:], b.targets[:, -1:]], dim=1)
    return bool(((nxt == b.targets) | (b.items == 0)).all())


def test_reorder_permutes_a_window_and_keeps_targets_consistent(data):
    _, batch = data
    g = torch.Generator().manual_seed(0)
    out = augment_batch(batch, AugmentOptions(reorder=1.0, reorder_ratio=0.4), g)
    assert not torch.equal(out.items, batch.items)
    for r in range(batch.items.shape[0]):   # same multiset of events per row (items + last target)
        a = torch.sort(torch.cat([batch.items[r], batch.targets[r, -1:]])).values
        b = torch.sort(torch.cat([out.items[r], out.targets[r, -1:]])).values
        assert torch.equal(a, b)
    assert torch.equal(out.mask, batch.mask)
    assert _next_item_layout_holds(out)
    assert torch.equal(out.timestamps, batch.timestamps)       # times stay in place
    assert torch.equal(batch.items, data[1].items)             # the input batch is untouched


def test_crop_keeps_the_latest_events(data):
    _, batch = data
    g = torch.Generator().manual_seed(1)
    out = augment_batch(batch, AugmentOptions(crop=1.0, crop_min_ratio=0.5), g)
    n0, n1 = batch.mask.sum(1), out.mask.sum(1)
    assert (n1 <= n0).all() and (n1 >= torch.ceil(n0 * 0.5)).all() and (n1 < n0).any()
    kept = out.mask
    assert torch.equal(out.items[kept], batch.items[kept])      # a suffix, unchanged
    assert (out.targets[~kept] == 0).all()


def test_mask_drops_items_and_their_targets_but_never_the_latest(data):
    _, batch = data
    g = torch.Generator().manual_seed(2)
    out = augment_batch(batch, AugmentOptions(mask=0.3), g)
    dropped = batch.mask & ~out.mask
    frac = dropped.sum() / batch.mask.sum()
    assert 0.15 < frac < 0.45
    assert (out.targets[dropped] == 0).all()
    assert torch.equal(out.items[:, -1], batch.items[:, -1])


def _model(ctx, head="interest"):
    from workbench.model.compose import ComposedModel

    torch.manual_seed(0)
    views = [build("views.temporal", "temporal", ctx, dim=16, values={"offer_item_embeddings": True}),
             build("views.action", "action", ctx, dim=16)]
    fusion = build("fusions.gmu", "gmu", ctx, dim=16, num_views=2)
    head_ctx = dataclasses.replace(ctx, tied_item_table=True)    # the views offer the item table
    return ComposedModel(views, fusion, build(f"heads.{head}", head, head_ctx, dim=16), 16, tied=True)


@pytest.mark.parametrize("method,norm", [("fgsm", "l2"), ("fgsm", "sign"), ("pgd", "l2")])
def test_adversarial_loss_is_larger_than_clean_and_trains(data, method, norm):
    ctx, batch = data
    model = _model(ctx)
    model.train()
    for m in model.modules():               # no dropout noise: compare clean vs perturbed fairly
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    adv = EmbeddingAdversary(model, AdversarialOptions(method=method, norm=norm, epsilon=0.5, steps=3, weight=1.0))
    assert len(adv.embeddings) >= 3
    torch.manual_seed(3)
    clean = model.loss(batch).item()
    torch.manual_seed(3)                    # same sampled negatives
    total = adv.loss(batch).item()
    assert total - clean > clean * 1.0      # clean + a perturbed loss that is at least as large
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(6):
        loss = adv.loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] * 0.9, losses
    adv.close()
    assert not any(m._forward_hooks for m in adv.embeddings)


def test_adversary_is_a_no_op_when_off_or_in_eval(data):
    ctx, batch = data
    model = _model(ctx)
    for method, train in (("off", True), ("fgsm", False)):
        adv = EmbeddingAdversary(model, AdversarialOptions(method=method, epsilon=0.5))
        model.train(train)
        torch.manual_seed(5)
        expected = model.loss(batch).item()
        torch.manual_seed(5)
        assert adv.loss(batch).item() == pytest.approx(expected, rel=1e-6)
        adv.close()


def test_fused_experiment_with_augmentation_and_adversary_runs_through_the_product(tmp_path, run_workbench):
    """`workbench demo` imports the demo data, then the engine's runner trains SASRec + temporal (GMU
    fusion) with crop/mask/reorder augmentation and FGM adversarial training turned on in [trainer]."""
    from workbench.data.demo import DEMO_DATASET
    from workbench.engine.runner import run_experiment
    from workbench.store import open_workspace

    ws_path = tmp_path / "ws.db"
    stats = json.loads(run_workbench("-w", ws_path, "demo", "--no-app", "--json", check=True).stdout)
    config = {
        "name": "mv-trainer-options", "dataset": DEMO_DATASET,
        "model": {"dim": 16, "max_len": 12},
        "views": [{"type": "sasrec", "blocks": 1}, {"type": "temporal", "windows": [3, 0]}],
        "fusion": {"type": "gmu"}, "head": {"type": "softmax_ce"},
        "trainer": {"epochs": 2, "batch_size": 512, "lr": 0.01, "augment_crop": 0.3, "augment_mask": 0.1,
                    "augment_reorder": 0.3, "adversarial": "fgm", "adversarial_epsilon": 0.1, "patience": 0},
    }
    run_id, test = run_experiment(ws_path, config)
    assert 0 < test["NDCG@10"] < 1 and test["num_users"] == stats["users"]
    with open_workspace(ws_path) as ws:
        run = list(ws.db.query("SELECT status, config FROM runs WHERE id = ?", [run_id]))[0]
        epochs = list(ws.db.query("SELECT train_loss FROM epoch_metrics WHERE run_id = ? ORDER BY epoch", [run_id]))
    assert run["status"] == "completed"
    assert '"adversarial": "fgm"' in run["config"] and '"augment_reorder": 0.3' in run["config"]
    assert len(epochs) == 2 and epochs[1]["train_loss"] < epochs[0]["train_loss"]


def test_crop_and_reorder_shares_are_set_in_the_trainer_table():
    """The crop floor and the reorder window are reachable from TOML ([trainer]) and reach the augmentation."""
    from workbench.engine.augment import augment_options_for
    from workbench.engine.config import parse_config
    from workbench.options import ConfigError

    raw = {"name": "t", "dataset": "d", "views": [{"type": "gru"}], "head": {"type": "softmax_ce"},
           "trainer": {"augment_crop": 0.5, "augment_crop_min_ratio": 0.3,
                       "augment_reorder": 0.5, "augment_reorder_ratio": 0.4}}
    o = augment_options_for(parse_config(raw).trainer)
    assert (o.crop, o.crop_min_ratio, o.reorder, o.reorder_ratio) == (0.5, 0.3, 0.5, 0.4)
    with pytest.raises(ConfigError, match="trainer.augment_crop_min_ratio"):
        parse_config({**raw, "trainer": {"augment_crop_min_ratio": 0.0}})


@pytest.mark.parametrize("head", ["interest", "sampled_softmax"])
def test_adversarial_training_with_row_sparse_tables(data, head):
    """trainer.sparse_tables = "on" with FGM: the perturbation hooks still see the lookups, the tables'
    gradients stay row-sparse, and RowSparseAdamW with the sparse-aware clipping fits the batch."""
    from workbench.engine.sparse_tables import RowSparseAdamW, clip_grad_norm_, sparse_tables
    ctx, batch = data
    model = _model(ctx, head)
    model.train()
    tables = sparse_tables(model, "on")
    assert tables
    adv = EmbeddingAdversary(model, AdversarialOptions(method="fgsm", norm="l2", epsilon=0.1, weight=1.0))
    opt = RowSparseAdamW(model.parameters(), lr=0.01)
    losses = []
    for step in range(8):
        torch.manual_seed(step)
        loss = adv.loss(batch)
        opt.zero_grad()
        loss.backward()
        if head == "sampled_softmax":      # every read of the tables is a lookup or a gather_rows
            assert all(t.weight.grad is None or t.weight.grad.is_sparse for t in tables)
        clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert losses[-1] < losses[0], losses
    adv.close()
