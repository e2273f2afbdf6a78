"""Fusion plugins on view states of demo-data slices: shapes, per-view weights, and that fused models train."""

import pytest
import torch

from mv_data import build, demo_slice, fused_losses, make_batch

FUSIONS = ["concat", "weighted", "attention", "gmu", "gated"]


@pytest.fixture(scope="module")
def data():
    ctx, seqs, times, _ = demo_slice(n_users=40, max_len=25)
    batch = make_batch(ctx, seqs, times, list(range(1, 25)))
    return ctx, batch


def _views(ctx):
    torch.manual_seed(0)
    short = build("views.temporal", "temporal", ctx, dim=16, values={"windows": [3], "offer_item_embeddings": True})
    long = build("views.temporal", "temporal", ctx, dim=16, values={"windows": [0, 20]})
    return [short, long]


@pytest.mark.parametrize("name", FUSIONS)
def test_fused_shape_and_weights_rows_sum_to_one(data, name):
    ctx, batch = data
    views = _views(ctx)
    fusion = build(f"fusions.{name}", name, ctx, dim=16, num_views=2)
    fusion.eval()
    states = [v(batch).states for v in views]
    out = fusion(states, batch)
    assert out.fused.shape == (24, 25, 16)
    assert out.weights.shape == (24, 25, 2)
    assert (out.weights >= 0).all()
    assert torch.allclose(out.weights.sum(-1), torch.ones(24, 25), atol=1e-5)


@pytest.mark.parametrize("name", FUSIONS)
def test_fused_model_trains(data, name):
    ctx, batch = data
    views = _views(ctx)
    fusion = build(f"fusions.{name}", name, ctx, dim=16, num_views=2)
    head = build("heads.interest", "interest", ctx, dim=16)
    losses = fused_losses(views, fusion, head, batch, steps=10)
    assert losses[-1] < losses[0] * 0.9, losses


def test_weighted_fusion_weights_follow_initial_and_explain_output(data):
    ctx, batch = data
    fusion = build("fusions.weighted", "weighted", ctx, dim=4, num_views=2, values={"initial": [3.0, 1.0]})
    a, b = torch.ones(2, 3, 4), torch.zeros(2, 3, 4)
    out = fusion([a, b], batch)
    assert torch.allclose(out.weights[0, 0], torch.tensor([0.75, 0.25]))
    assert torch.allclose(out.fused, torch.full((2, 3, 4), 0.75))


def test_attention_weights_prefer_the_view_matching_the_query(data):
    """With identity projections, the view equal to the query gets the larger weight."""
    ctx, batch = data
    fusion = build("fusions.attention", "attention", ctx, dim=8, num_views=2, values={"dropout": 0.0})
    with torch.no_grad():
        for lin in (fusion.query, fusion.key):
            lin.weight.copy_(torch.eye(8) * 3)
            lin.bias.zero_()
    q = torch.randn(2, 5, 8)
    out = fusion([q, -q], batch)
    assert (out.weights[..., 0] > 0.9).all()


def test_concat_weights_are_zero_for_a_silent_view(data):
    ctx, batch = data
    fusion = build("fusions.concat", "concat", ctx, dim=8, num_views=3)
    s = torch.randn(2, 4, 8)
    out = fusion([s, torch.zeros(2, 4, 8), s], batch)
    assert torch.allclose(out.weights[..., 1], torch.zeros(2, 4))


def test_bad_fusion_options_name_the_key(data):
    ctx, _ = data
    with pytest.raises(ValueError, match="query_view"):
        build("fusions.attention", "attention", ctx, dim=8, num_views=2, values={"query_view": 2})
    with pytest.raises(ValueError, match="initial"):
        build("fusions.weighted", "weighted", ctx, dim=8, num_views=2, values={"initial": [1.0]})
    with pytest.raises(ValueError, match="base_view"):
        build("fusions.gated", "gated", ctx, dim=8, num_views=2, values={"base_view": 2})


@pytest.mark.parametrize("name", ["attention", "gmu"])
def test_fused_states_keep_the_scale_a_dot_product_head_needs(data, name):
    """Fused states come out layer-normalised (per-position RMS ~1), like a SASRec state: the
    GMU's tanh units alone give states ~4x smaller (RMS 0.26 here) at initialisation."""
    ctx, batch = data
    views = _views(ctx)
    fusion = build(f"fusions.{name}", name, ctx, dim=16, num_views=2).eval()
    fused = fusion([v(batch).states for v in views], batch).fused[batch.items > 0]
    rms = fused.pow(2).mean(-1).sqrt()
    assert torch.allclose(rms, torch.ones_like(rms), atol=0.05)
    raw = build("fusions.gmu", "gmu", ctx, dim=16, num_views=2, values={"norm": False}).eval()
    raw_rms = raw([v(batch).states for v in views], batch).fused[batch.items > 0].pow(2).mean(-1).sqrt()
    assert raw_rms.mean() < 0.5 * rms.mean()


def test_gated_fusion_starts_as_the_base_view_and_learns_to_open_its_gates(data):
    """At initialisation the fused state and the head's item vectors are exactly the base view's;
    training moves the gates, so the other view then changes the fused state."""
    ctx, batch = data
    views = _views(ctx)
    fusion = build("fusions.gated", "gated", ctx, dim=16, num_views=2)
    with torch.no_grad():
        states = [v(batch).states for v in views]
        out = fusion(states, batch)
        assert torch.equal(out.fused, states[0])
        assert torch.allclose(out.weights[..., 0][batch.items > 0], torch.ones(()))
        table = torch.randn(ctx.num_items + 1, 16)
        other = torch.randn(ctx.num_items + 1, 16)
        assert torch.equal(fusion.combine_item_tables([table, other]), table)
        assert torch.equal(fusion.combine_item_tables([None, other]), torch.zeros_like(other))
    head = build("heads.interest", "interest", ctx, dim=16)
    fused_losses(views, fusion, head, batch, steps=10)
    assert fusion.gates.abs().max() > 0
    with torch.no_grad():
        states = [v(batch).states for v in views]
        assert not torch.allclose(fusion(states, batch).fused, states[0])


def test_gated_fusion_can_sum_item_tables_like_the_others(data):
    ctx, _ = data
    fusion = build("fusions.gated", "gated", ctx, dim=4, num_views=2, values={"item_gates": False})
    a, b = torch.ones(5, 4), torch.full((5, 4), 2.0)
    assert torch.equal(fusion.combine_item_tables([a, b]), torch.full((5, 4), 3.0))
