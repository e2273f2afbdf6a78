"""Interest and multi-task heads on demo-data slices: losses, scores, auxiliary-task metrics."""

import math

import pytest
import torch

from mv_data import build, demo_slice, fused_losses, make_batch


@pytest.fixture(scope="module")
def data():
    ctx, seqs, times, acts = demo_slice(n_users=30, max_len=20, actions=True)
    return ctx, seqs, times, acts


def test_interest_score_is_the_logit_of_the_training_probability(data):
    ctx, seqs, times, _ = data
    head = build("heads.interest", "interest", ctx, dim=8)
    with torch.no_grad():
        head.bias.uniform_(-1, 1)
    user = torch.randn(3, 8)
    scores = head.score(user, None, None)
    assert scores.shape == (3, ctx.num_items + 1)
    items = torch.tensor([[5, 9]] * 3)
    assert torch.allclose(scores[:, [5, 9]], head._logits(user, head.own_items.weight, items), atol=1e-5)
    assert torch.allclose(head.probability(user, None, None), torch.sigmoid(scores))


def test_interest_loss_uses_tied_item_vectors_when_offered(data):
    ctx, seqs, times, _ = data
    head = build("heads.interest", "interest", ctx, dim=8)
    batch = make_batch(ctx, seqs, times, [1, 2])
    fused = torch.randn(2, 20, 8)
    table = torch.randn(ctx.num_items + 1, 8, requires_grad=True)
    head.loss(fused, batch, table).backward()
    assert table.grad is not None and table.grad.abs().sum() > 0
    assert head.own_items.weight.grad is None


def test_binary_auc_matches_pairwise_definition():
    from workbench_plugins.heads.multitask_impl import binary_auc

    g = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 5, (200,), generator=g).float()     # many ties
    labels = torch.rand(200, generator=g) < 0.3
    pos, neg = scores[labels], scores[~labels]
    pairwise = ((pos[:, None] > neg[None, :]).double() + 0.5 * (pos[:, None] == neg[None, :]).double()).mean()
    assert math.isclose(binary_auc(scores, labels), float(pairwise), rel_tol=1e-9)


def test_multitask_trains_both_tasks_and_reports_metrics(data):
    """The demo funnel as actions (view, click, cart, purchase); predicting the next action type
    and, as the binary task, whether it is a purchase (the default positive action)."""
    ctx, seqs, times, acts = data
    torch.manual_seed(0)
    view = build("views.temporal", "temporal", ctx, dim=16, values={"offer_item_embeddings": True})
    action = build("views.action", "action", ctx, dim=16)
    fusion = build("fusions.concat", "concat", ctx, dim=16, num_views=2)
    head = build("heads.multitask", "multitask", ctx, dim=16)
    batch = make_batch(ctx, seqs, times, list(range(1, 21)), action_seqs=acts)
    losses = fused_losses([view, action], fusion, head, batch, steps=12)
    assert losses[-1] < losses[0] * 0.9, losses
    for m in (view, action, fusion, head):
        m.eval()
    fused = fusion([view(batch).states, action(batch).states], batch).fused
    metrics = head.action_metrics(fused, batch)
    assert set(metrics) == {"action_accuracy", "action_macro_f1", "purchase_auc", "purchase_f1"}
    assert 0 <= metrics["action_accuracy"] <= 1 and 0 <= metrics["purchase_auc"] <= 1
    # a trained action task beats chance on the batch it was fitted to
    assert metrics["purchase_auc"] > 0.55, metrics


def test_multitask_needs_action_types(data):
    ctx, _, _, _ = data
    ctx2 = type(ctx)(**{**ctx.__dict__, "actions": []})
    with pytest.raises(ValueError, match="no action types"):
        build("heads.multitask", "multitask", ctx2, dim=8)


def test_multitask_action_loss_is_the_mean_over_positions_with_an_action_and_ignores_padding(data):
    """The action CE runs at every position (no host sync asking whether any action is there); it must
    equal the mean CE over the positions that have a target action, and stay finite when none has."""
    import torch.nn.functional as F

    ctx, seqs, times, acts = data
    torch.manual_seed(0)
    head = build("heads.multitask", "multitask", ctx, dim=8, values={"action_weight": 1.0, "item_weight": 0.0})
    batch = make_batch(ctx, seqs, times, [1, 2, 3], action_seqs=acts)
    fused = torch.randn(3, 20, 8)
    fused[~(batch.target_actions > 0)] = float("nan")            # whatever a view leaves at padding
    fused.requires_grad_(True)
    sel = batch.target_actions > 0
    expected = F.cross_entropy(head.action_logits(fused[sel]), batch.target_actions[sel])
    loss = head.loss(fused, batch, torch.randn(ctx.num_items + 1, 8))
    assert torch.isclose(loss, expected, atol=1e-5)
    loss.backward()
    assert torch.isfinite(fused.grad).all()
    none = type(batch)(**{**batch.__dict__, "target_actions": torch.zeros_like(batch.target_actions)})
    assert float(head.loss(torch.randn(3, 20, 8), none, torch.randn(ctx.num_items + 1, 8)).detach()) == 0.0
