"""Multi-scale temporal view on demo-data slices: shapes, causality, time features, training."""

import torch

from mv_data import build, causality_check, demo_slice, make_batch


def _setup(**values):
    torch.manual_seed(0)
    ctx, seqs, times, _ = demo_slice(n_users=40, max_len=30)
    view = build("views.temporal", "temporal", ctx, dim=16, values=values)
    batch = make_batch(ctx, seqs, times, list(range(1, 17)))
    return ctx, view, batch


def test_shapes_and_padding_are_zero():
    ctx, view, batch = _setup()
    view.eval()
    out = view(batch)
    assert out.states.shape == (16, 30, 16)
    assert out.aux_loss is None
    assert torch.isfinite(out.states).all()
    assert (out.states[~batch.mask] == 0).all()
    w = view.last_scale_weights
    assert w.shape == (16, 30, 3)
    assert torch.allclose(w.sum(-1), torch.ones(16, 30), atol=1e-5)


def test_state_at_t_ignores_later_events():
    _, view, batch = _setup()
    for t in (0, 7, 15, 28):
        assert causality_check(view, batch, t) < 1e-5, t


def test_time_features_react_to_timestamps():
    """Timestamps matter: shifting the time of day of the history changes the states."""
    _, view, batch = _setup()
    view.eval()
    with torch.no_grad():
        a = view(batch).states
        shifted = batch.to("cpu")
        shifted.timestamps = torch.where(batch.mask, batch.timestamps + 5 * 3600.0, batch.timestamps)
        b = view(shifted).states
    assert (a - b).abs().max() > 1e-3


def test_works_without_timestamps_as_positions():
    ctx, seqs, times, _ = demo_slice(n_users=20, max_len=20)
    ctx.has_timestamps = False
    positions = [[float(k) for k in range(len(s))] for s in seqs]
    view = build("views.temporal", "temporal", ctx, dim=8, values={"windows": [2, 0]})
    batch = make_batch(ctx, seqs, positions, list(range(1, 9)))
    assert view(batch).states.shape == (8, 20, 8)
    assert causality_check(view, batch, 10) < 1e-5


def test_change_rate_counts_category_switches():
    """Two items with disjoint categories alternating -> category change rate 1; repeated -> 0."""
    ctx, view, batch = _setup(change_window=4)
    cats = view.categories
    a = next(i for i in range(1, ctx.num_items + 1) if cats[i].sum() > 0)
    b = next(i for i in range(1, ctx.num_items + 1) if cats[i].sum() > 0 and (cats[i] * cats[a]).sum() == 0)
    items = torch.tensor([[0, 0, a, b, a, b, a, b], [0, 0, a, a, a, a, a, a]])
    mask = items > 0
    rates = view.change_rates(items, view.item_emb(items), mask)
    assert torch.allclose(rates[0, 3:, 0], torch.ones(5))
    assert torch.allclose(rates[1, 3:, 0], torch.zeros(5))
    assert torch.allclose(rates[1, 3:, 1], torch.zeros(5), atol=1e-5)   # same item: no drift


def test_bad_windows_option_is_a_config_error():
    import pytest

    from workbench.options import ConfigError, parse_options
    from workbench_plugins.views.temporal import TemporalOptions

    with pytest.raises(ConfigError, match="windows"):
        parse_options(TemporalOptions, {"windows": [3, -1]}, "views.temporal")


def test_window_pooling_matches_a_direct_loop_and_survives_bf16():
    """Cumsum pooling equals the naive windowed mean; with bf16 inputs the window value is kept
    (the prefix sums run in float32, so long histories do not cancel out)."""
    from workbench_plugins.views._pooling import causal_window_mean

    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 200, 4, generator=g) + 50.0          # large common offset: cancellation-prone
    mask = torch.ones(3, 200, dtype=torch.bool)
    mask[0, :120] = False
    for w in (3, 20, 0):
        got = causal_window_mean(x, mask, w)
        for t in (0, 119, 120, 150, 199):
            lo = 0 if w == 0 else max(0, t - w + 1)
            rows = x[0, lo:t + 1][mask[0, lo:t + 1]]
            want = rows.mean(0) if len(rows) else torch.zeros(4)
            assert torch.allclose(got[0, t], want, atol=1e-4), (w, t)
        low = causal_window_mean(x.bfloat16(), mask, w)
        assert low.dtype == torch.bfloat16
        assert torch.allclose(low.float()[1], got[1], atol=0.5)
