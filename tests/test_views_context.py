"""User/context, action-type and precomputed-feature views on slices of the generated demo data."""

import numpy as np
import pytest
import torch

from mv_data import build, causality_check, demo_slice, fused_losses, make_batch


@pytest.fixture(scope="module")
def data():
    return demo_slice(n_users=30, max_len=20, actions=True)


def test_user_context_reads_user_attributes_and_request_time(data):
    ctx, seqs, times, _ = data
    view = build("views.user_context", "user_context", ctx, dim=8, values={"dropout": 0.0})
    assert view.categorical_names == ["age_band", "region"] and view.numeric_names == ["age"]
    batch = make_batch(ctx, seqs, times, [1, 2, 3])
    out = view(batch).states
    assert out.shape == (3, 20, 8) and (out[~batch.mask] == 0).all()
    assert causality_check(view, batch, 8) < 1e-5
    # a different user (other attributes) -> other states; another request time -> other states
    other = make_batch(ctx, seqs, times, [1, 2, 3])
    other.users = torch.tensor([4, 5, 6])
    assert (view(other).states - out).abs().max() > 1e-4
    later = make_batch(ctx, seqs, times, [1, 2, 3])
    later.target_timestamps = later.target_timestamps + 7 * 3600.0
    assert (view(later).states - out).abs().max() > 1e-4


def test_user_context_unknown_attribute_is_named(data):
    ctx, _, _, _ = data
    with pytest.raises(ValueError, match="zip"):
        build("views.user_context", "user_context", ctx, dim=8, values={"attributes": ["zip"]})


def test_action_view_distinguishes_actions_and_is_causal(data):
    ctx, seqs, times, acts = data
    torch.manual_seed(0)
    view = build("views.action", "action", ctx, dim=8, values={"dropout": 0.0})
    batch = make_batch(ctx, seqs, times, [1, 2, 3], action_seqs=acts)
    out = view(batch).states
    assert out.shape == (3, 20, 8)
    assert causality_check(view, batch, 5) < 1e-5
    flipped = make_batch(ctx, seqs, times, [1, 2, 3], action_seqs=acts)
    flipped.actions = torch.where(batch.actions > 0, len(ctx.actions) + 1 - batch.actions, batch.actions)
    assert (view(flipped).states - out).abs().max() > 1e-4
    no_actions = make_batch(ctx, seqs, times, [1, 2, 3])
    assert torch.isfinite(view(no_actions).states).all()


def test_precomputed_vectors_aligned_by_raw_ids(data, tmp_path):
    """Rows given for raw item ids in shuffled order land on the right internal items."""
    ctx, seqs, times, _ = data
    raw = ctx.item_raw_ids
    rng = np.random.default_rng(0)
    order = rng.permutation(np.arange(1, ctx.num_items + 1))[: ctx.num_items - 5]   # 5 items get no vector
    matrix = rng.normal(size=(len(order) + 1, 6)).astype(np.float32)   # + one id not in the dataset
    np.save(tmp_path / "vec.npy", matrix)
    (tmp_path / "ids.txt").write_text("\n".join([raw[i] for i in order] + ["999999"]) + "\n")
    view = build("views.precomputed", "precomputed", ctx, dim=8,
                 values={"path": str(tmp_path / "vec.npy"), "ids_path": str(tmp_path / "ids.txt"),
                         "normalize": False})
    for row, item in enumerate(order[:20]):
        assert np.allclose(view.features[item].numpy(), matrix[row])
    assert int(view.has_vector.sum()) == len(order)
    batch = make_batch(ctx, seqs, times, [1, 2])
    assert view(batch).states.shape == (2, 20, 8)
    assert causality_check(view, batch, 10) < 1e-5
    reps = view.item_representations()
    missing = [i for i in range(1, ctx.num_items + 1) if not view.has_vector[i]]
    assert (reps[missing] == 0).all()


def test_precomputed_bad_files_are_named(data, tmp_path):
    ctx, _, _, _ = data
    np.save(tmp_path / "short.npy", np.zeros((3, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="short.npy has 3 rows"):
        build("views.precomputed", "precomputed", ctx, dim=8, values={"path": str(tmp_path / "short.npy")})
    with pytest.raises(ValueError, match="does not exist"):
        build("views.precomputed", "precomputed", ctx, dim=8, values={"path": str(tmp_path / "none.npy")})
    (tmp_path / "v.parquet").write_bytes(b"PAR1")
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match="pyarrow is not installed"):
            build("views.precomputed", "precomputed", ctx, dim=8, values={"path": str(tmp_path / "v.parquet")})


def test_context_views_fused_model_trains(data):
    ctx, seqs, times, acts = data
    torch.manual_seed(0)
    views = [build("views.temporal", "temporal", ctx, dim=16, values={"offer_item_embeddings": True}),
             build("views.user_context", "user_context", ctx, dim=16),
             build("views.action", "action", ctx, dim=16)]
    fusion = build("fusions.attention", "attention", ctx, dim=16, num_views=3)
    head = build("heads.interest", "interest", ctx, dim=16)
    batch = make_batch(ctx, seqs, times, list(range(1, 17)), action_seqs=acts)
    losses = fused_losses(views, fusion, head, batch, steps=10)
    assert losses[-1] < losses[0] * 0.9, losses
