"""Graph view on demo-data slices: no test-item leakage, GNN choices, causality, training."""

import pytest
import torch

from mv_data import build, causality_check, demo_slice, fused_losses, make_batch


@pytest.fixture(scope="module")
def data():
    return demo_slice(n_users=30, max_len=20)[:3]


def test_graph_is_built_from_training_sequences_only(data):
    """Items that occur only in held-out (validation/test) events have no edges at all."""
    ctx, seqs, _ = data
    view = build("views.graph", "graph", ctx, dim=8, values={"max_neighbors": 0})
    trained = {i for s in ctx.train_sequences for i in s}
    held_out_only = {i for s in seqs[1:] for i in s[-2:]} - trained
    assert held_out_only, "the slice must have items seen only in held-out events"
    nodes = set(view.edge_index.flatten().tolist())
    assert not (nodes & held_out_only)
    # and every consecutive training pair is an edge (both directions when undirected)
    s = ctx.train_sequences[1]
    edges = set(zip(view.edge_index[0].tolist(), view.edge_index[1].tolist()))
    for a, b in zip(s[:-1], s[1:]):
        if a != b:
            assert (a, b) in edges and (b, a) in edges


def test_max_neighbors_caps_in_degree(data):
    ctx, _, _ = data
    view = build("views.graph", "graph", ctx, dim=8, values={"max_neighbors": 3, "window": 2})
    indeg = torch.bincount(view.edge_index[1], minlength=ctx.num_items + 1)
    assert indeg.max() <= 3
    assert (view.edge_weight > 0).all() and (view.edge_weight <= 1).all()


@pytest.mark.parametrize("conv", ["gcn", "gat", "gated"])
def test_each_gnn_gives_causal_states_and_refined_items(data, conv):
    ctx, seqs, times = data
    torch.manual_seed(0)
    view = build("views.graph", "graph", ctx, dim=8, values={"conv": conv, "layers": 2})
    batch = make_batch(ctx, seqs, times, [1, 2, 3, 4])
    out = view(batch)
    assert out.states.shape == (4, 20, 8)
    assert causality_check(view, batch, 9) < 1e-5
    reps = view.item_representations()
    assert reps.shape == (ctx.num_items + 1, 8) and (reps[0] == 0).all()
    # message passing changes connected items' vectors relative to the raw ID table
    assert (reps[1:] - view.item_emb.weight[1:]).abs().max() > 1e-4


def test_graph_model_trains(data):
    ctx, seqs, times = data
    torch.manual_seed(0)
    view = build("views.graph", "graph", ctx, dim=16)
    temporal = build("views.temporal", "temporal", ctx, dim=16)
    fusion = build("fusions.attention", "attention", ctx, dim=16, num_views=2)
    head = build("heads.interest", "interest", ctx, dim=16)
    batch = make_batch(ctx, seqs, times, list(range(1, 17)))
    losses = fused_losses([view, temporal], fusion, head, batch, steps=10)
    assert losses[-1] < losses[0] * 0.9, losses


@pytest.mark.parametrize("window,directed", [(1, False), (3, True)])
def test_transition_edges_count_pairs_within_each_sequence(window, directed):
    """The columnar edge builder counts a -> b once per pair k <= window events apart in one sequence,
    never across two users' sequences; weights are counts over each target's largest count."""
    from collections import Counter

    from workbench.model.sequences import ItemSequences
    from workbench_plugins.views.graph_impl import transition_edges
    lists = [[], [1, 2, 3, 2], [4], [3, 1, 1, 5], [], [2, 5]]
    expected = Counter()
    for s in lists:
        for k in range(1, window + 1):
            for a, b in zip(s[:-k], s[k:]):
                if a != b:
                    expected[(a, b)] += 1
                    if not directed:
                        expected[(b, a)] += 1
    for given in (lists, ItemSequences.from_lists(lists)):
        edge_index, weight = transition_edges(given, 5, window, directed)
        got = dict(zip(zip(edge_index[0].tolist(), edge_index[1].tolist()), weight.tolist()))
        peak = Counter()
        for (_, b), c in expected.items():
            peak[b] = max(peak[b], c)
        assert got == pytest.approx({(a, b): c / peak[b] for (a, b), c in expected.items()})
