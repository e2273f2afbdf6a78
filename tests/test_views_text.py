"""Text view on demo-data titles and categories: shapes, causality, cold-start item vectors, training."""

import pytest
import torch

from mv_data import build, causality_check, demo_slice, fused_losses, make_batch, require


@pytest.fixture(scope="module")
def data():
    ctx, seqs, times, _ = demo_slice(n_users=6, max_len=20)
    return ctx, seqs, times


@pytest.fixture(scope="module")
def view(data):
    torch.manual_seed(0)
    return build("views.text", "text", data[0], dim=16)


def test_states_shape_and_causality(data, view):
    ctx, seqs, times = data
    batch = make_batch(ctx, seqs, times, [1, 2, 3, 4])
    out = view(batch)
    assert out.states.shape == (4, 20, 16)
    assert (out.states[~batch.mask] == 0).all()
    for t in (0, 9, 18):
        assert causality_check(view, batch, t) < 1e-5


def test_item_vectors_come_from_text_so_unseen_items_get_them(data, view):
    """Items outside every training sequence still have a non-zero vector from their title."""
    ctx, _, _ = data
    reps = view.item_representations()
    assert reps.shape == (ctx.num_items + 1, 16)
    assert (reps[0] == 0).all()
    trained = {i for s in ctx.train_sequences for i in s}
    unseen = [i for i in range(1, ctx.num_items + 1) if i not in trained]
    assert unseen, "the slice holds out the last two events of each user, so some items are unseen"
    assert (reps[unseen].norm(dim=1) > 0).all()


def test_similar_real_titles_are_close_in_text_space():
    """Sequels share most of their title: their raw text vectors are closer than unrelated ones
    (real MovieLens titles)."""
    titles = [line.split("|")[1] for line in
              (require("ml-100k") / "u.item").read_text(encoding="latin-1").splitlines()]
    star = [t for t in titles if t.startswith("Star Trek")]
    assert len(star) >= 2
    from workbench_plugins.views._text_cache import encode_texts

    raw, _ = encode_texts([star[0], star[1], "Fargo (1996)"])
    sim = raw @ raw.T
    assert sim[0, 1] > sim[0, 2]


def test_text_and_temporal_fusion_trains(data, view):
    ctx, seqs, times = data
    batch = make_batch(ctx, seqs, times, [1, 2, 3, 4, 5, 6])
    torch.manual_seed(0)
    temporal = build("views.temporal", "temporal", ctx, dim=16)
    fusion = build("fusions.gmu", "gmu", ctx, dim=16, num_views=2)
    head = build("heads.interest", "interest", ctx, dim=16)
    losses = fused_losses([view, temporal], fusion, head, batch, steps=10)
    assert losses[-1] < losses[0] * 0.9, losses


def test_moe_adapter_and_missing_model_folder(data, tmp_path):
    ctx, seqs, times = data
    moe = build("views.text", "text", ctx, dim=8, values={"adapter": "moe", "experts": 3, "whiten": False})
    assert moe(make_batch(ctx, seqs, times, [1, 2])).states.shape == (2, 20, 8)
    with pytest.raises(ValueError, match="views.text.model"):
        build("views.text", "text", ctx, dim=8, values={"model": str(tmp_path / "nope")})
