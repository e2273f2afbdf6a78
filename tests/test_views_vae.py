"""VAE latent view on demo-data slices: causality per encoder, KL auxiliary loss and annealing, training."""

import pytest
import torch

from mv_data import build, causality_check, demo_slice, fused_losses, make_batch


@pytest.fixture(scope="module")
def data():
    return demo_slice(n_users=30, max_len=20)[:3]


@pytest.mark.parametrize("encoder", ["gru", "lstm", "transformer"])
def test_latent_states_are_causal(data, encoder):
    ctx, seqs, times = data
    torch.manual_seed(0)
    view = build("views.vae", "vae", ctx, dim=8, values={"encoder": encoder})
    batch = make_batch(ctx, seqs, times, [1, 2, 3, 4])
    view.eval()
    out = view(batch)
    assert out.states.shape == (4, 20, 8)
    assert out.aux_loss is None                       # no KL term outside training
    assert (~batch.mask).any(), "the batch must have a left-padded row"
    with torch.no_grad():                             # inference (PyTorch's fast path for the transformer)
        states = view(batch).states
    assert torch.isfinite(states).all() and (states[~batch.mask] == 0).all()
    for t in (0, 10, 18):
        assert causality_check(view, batch, t) < 1e-5


def test_kl_is_an_annealed_auxiliary_loss(data):
    ctx, seqs, times = data
    torch.manual_seed(0)
    view = build("views.vae", "vae", ctx, dim=8, values={"beta": 0.5, "anneal_steps": 4})
    batch = make_batch(ctx, seqs, times, [1, 2, 3, 4])
    view.train()
    weights = []
    for _ in range(6):
        out = view(batch)
        assert out.aux_loss is not None and out.aux_loss.item() >= 0
        weights.append(float(view.kl_weight()))
    assert weights == [0.125, 0.25, 0.375, 0.5, 0.5, 0.5]
    assert view.last_kl.item() > 0
    # sampling in training: two forwards differ; eval uses the mean: identical
    a, b = view(batch).states, view(batch).states
    assert (a - b).abs().max() > 0
    view.eval()
    assert torch.equal(view(batch).states, view(batch).states)


def test_research_note_system_trains(data):
    """h from a view, v from the VAE view, weighted fusion, interest head: sigmoid(a W h + (1 - a) W v + b)."""
    ctx, seqs, times = data
    torch.manual_seed(0)
    h_view = build("views.temporal", "temporal", ctx, dim=16, values={"offer_item_embeddings": True})
    v_view = build("views.vae", "vae", ctx, dim=16, values={"anneal_steps": 0})   # constant KL weight
    fusion = build("fusions.weighted", "weighted", ctx, dim=16, num_views=2)
    head = build("heads.interest", "interest", ctx, dim=16)
    batch = make_batch(ctx, seqs, times, list(range(1, 17)))
    losses = fused_losses([h_view, v_view], fusion, head, batch, steps=12)
    assert losses[-1] < losses[0] * 0.9, losses
