"""Views are causal, heads give finite losses with gradients, CE variants agree."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from workbench.engine.config import parse_config
from workbench.model.base import DataContext, SeqBatch
from workbench.model.compose import build_model

N, L, D = 40, 12, 16


def model_for(view: dict, head: dict | None = None, **model):
    cfg = parse_config({"name": "t", "dataset": "d", "model": {"dim": D, "max_len": L, **model},
                        "views": [view], "head": head or {"type": "softmax_ce"}})
    torch.manual_seed(0)
    ctx = DataContext(num_items=N, num_users=5, max_len=L, item_popularity=torch.arange(N + 1).float())
    return build_model(cfg, ctx)


def batch_of(items: torch.Tensor) -> SeqBatch:
    targets = torch.roll(items, -1, 1)
    targets[:, -1] = 3
    targets[items == 0] = 0
    return SeqBatch(items, targets, torch.arange(1, items.shape[0] + 1))


def left_padded(lengths, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    items = torch.randint(1, N + 1, (len(lengths), L), generator=g)
    for r, n in enumerate(lengths):
        items[r, : L - n] = 0
    return items


VIEWS = [{"type": "sasrec", "blocks": 2, "heads": 2, "norm": "pre"},
         {"type": "sasrec", "blocks": 1, "heads": 1, "norm": "post"},
         {"type": "sasrec", "blocks": 2, "heads": 2, "norm": "sasrec", "positions": "from_start"},
         {"type": "gru"}, {"type": "lstm", "layers": 2}]


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: f"{v['type']}-{v.get('norm', '')}")
def test_views_are_causal_and_padding_safe(view):
    model = model_for(view).eval()
    items = left_padded([L, 7, 1])
    with torch.no_grad():
        states, _, _ = model.states(batch_of(items))
        assert torch.isfinite(states).all()
        t = L - 4   # change every event after position t
        changed = items.clone()
        changed[:, t + 1:] = (changed[:, t + 1:] % N) + 1
        states2, _, _ = model.states(batch_of(changed))
    assert torch.allclose(states[:, : t + 1], states2[:, : t + 1], atol=1e-5)
    assert not torch.allclose(states[:, t + 1:], states2[:, t + 1:])


def test_sasrec_state_does_not_depend_on_padding_amount():
    """The same history with more left padding gives the same state at its last position."""
    model = model_for(VIEWS[0]).eval()
    a = left_padded([5])
    b = a.clone()
    b[0, :-3] = 0                      # shorter: only the last 3 events
    c = torch.zeros_like(a)
    c[0, -3:] = a[0, -3:]
    with torch.no_grad():
        sb, _, _ = model.states(batch_of(b))
        sc, _, _ = model.states(batch_of(c))
    assert torch.allclose(sb[0, -1], sc[0, -1], atol=1e-6)


@pytest.mark.parametrize("positions", ["from_start", "from_end"])
def test_sasrec_positions_from_start_train_on_what_inference_sees(positions):
    """With positions counted from the first event, the state at position i of a training row is the
    state inference computes for the prefix ending there; counted from the end, it is not."""
    model = model_for({"type": "sasrec", "blocks": 2, "positions": positions, "dropout": 0.0}).eval()
    row = left_padded([9])
    i = L - 4                                   # the 6th of the 9 events
    prefix = torch.zeros_like(row)
    prefix[0, L - (i - (L - 9) + 1):] = row[0, L - 9: i + 1]
    with torch.no_grad():
        full, _, _ = model.states(batch_of(row))
        alone, _, _ = model.states(batch_of(prefix))
    same = torch.allclose(full[0, i], alone[0, -1], atol=1e-5)
    assert same == (positions == "from_start")


@pytest.mark.parametrize("head", [{"type": "softmax_ce"}, {"type": "softmax_ce", "chunk_size": 7},
                                  {"type": "sampled_softmax", "negatives": 8},
                                  {"type": "sampled_softmax", "negatives": 8, "sampler": "popularity"},
                                  {"type": "bce"}, {"type": "gbce", "negatives": 8, "t": 0.5},
                                  {"type": "bpr", "negatives": 2}], ids=lambda h: str(h))
@pytest.mark.parametrize("tied", [True, False])
def test_heads_train(head, tied):
    model = model_for(VIEWS[0], head, tied=tied).train()
    batch = batch_of(left_padded([L, 5, 9, 2]))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)

    def fixed_loss():               # same sampled negatives and no dropout: comparable before/after
        model.eval()
        torch.manual_seed(123)
        with torch.no_grad():
            value = model.loss(batch).item()
        model.train()
        return value

    before = fixed_loss()
    for _ in range(8):
        loss = model.loss(batch)
        assert torch.isfinite(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert fixed_loss() < before          # it fits a tiny batch
    scores = model.score(model.encode(batch), batch)
    assert scores.shape == (4, N + 1)
    assert (model.head.own_items is None) == tied


def test_sampled_softmax_bucketed_rows_give_the_same_loss_and_gradients(monkeypatch):
    """The CPU bucketing of the target rows (a bounded set of matmul shapes for oneDNN's cache) adds
    zero rows and cuts their logits off: loss and gradients are those of the unpadded rows."""
    from workbench_plugins.heads import sampled_softmax_impl as impl
    model = model_for(VIEWS[0], {"type": "sampled_softmax", "negatives": 8}).train()
    batch = batch_of(left_padded([L, 5, 9, 2]))

    def loss_and_grads(bucket):
        monkeypatch.setattr(impl, "ROW_BUCKET", bucket)
        model.zero_grad()
        torch.manual_seed(5)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model.loss(batch)
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]

    assert impl._rows_in_buckets(torch.ones(3, 2)).shape == (impl.ROW_BUCKET, 2)
    plain, bucketed = loss_and_grads(1), loss_and_grads(512)
    torch.testing.assert_close(bucketed[0], plain[0])
    for a, b in zip(bucketed[1], plain[1]):
        torch.testing.assert_close(a, b)


def test_popularity_negatives_follow_the_proposal():
    """The sampled-softmax head's popularity negatives (binary search in Q's cumulative sums) have
    Q's distribution: id 0 never, every item at its frequency within a few standard errors."""
    model = model_for(VIEWS[0], {"type": "sampled_softmax", "negatives": 4000, "sampler": "popularity"})
    q = model.head.proposal.double()
    torch.manual_seed(11)
    draws = torch.cat([model.head.negatives(torch.device("cpu")) for _ in range(50)])
    freq = torch.bincount(draws, minlength=N + 1).double() / len(draws)
    assert freq[0] == 0 and draws.max() <= N
    standard_error = (q * (1 - q) / len(draws)).sqrt()
    assert ((freq - q).abs() <= 5 * standard_error + 1e-12).all()


def test_draw_by_cumulative_never_draws_weight_zero_ids():
    from workbench_plugins.heads.sampled_softmax_impl import draw_by_cumulative
    weights = torch.tensor([0.0, 1.0, 0.0, 0.0, 3.0, 0.0, 6.0])
    torch.manual_seed(3)
    draws = draw_by_cumulative(torch.cumsum(weights.double(), 0), 100_000)
    assert set(draws.unique().tolist()) == {1, 4, 6}
    freq = torch.bincount(draws, minlength=7).double() / len(draws)
    torch.testing.assert_close(freq[[1, 4, 6]], torch.tensor([0.1, 0.3, 0.6], dtype=torch.float64), atol=0.01, rtol=0)


def test_chunked_ce_matches_plain_cross_entropy():
    from workbench_plugins.heads._chunked_ce import chunked_softmax_ce
    torch.manual_seed(1)
    h = torch.randn(50, 8, requires_grad=True)
    E = torch.randn(30, 8, requires_grad=True)
    t = torch.randint(0, 30, (50,))
    for smoothing in (0.0, 0.1):
        a = chunked_softmax_ce(h, E, t, chunk=16, smoothing=smoothing)
        ga = torch.autograd.grad(a, [h, E])
        b = F.cross_entropy(h @ E.T, t, label_smoothing=smoothing)
        gb = torch.autograd.grad(b, [h, E])
        assert torch.allclose(a, b, atol=1e-5)
        assert all(torch.allclose(x, y, atol=1e-5) for x, y in zip(ga, gb))


def test_gbce_beta_follows_the_paper():
    model = model_for(VIEWS[0], {"type": "gbce", "negatives": 8, "t": 1.0})
    alpha = 8 / (N - 1)
    assert model.head.beta == pytest.approx(alpha * ((1 - 1 / alpha) * 1.0 + 1 / alpha))
    assert model_for(VIEWS[0], {"type": "gbce", "negatives": 8, "t": 0.0}).head.beta == pytest.approx(1.0)


def test_identity_fusion_refuses_two_views():
    cfg = parse_config({"name": "t", "dataset": "d", "model": {"dim": D, "max_len": L},
                        "views": [{"type": "sasrec"}, {"type": "gru"}], "fusion": {"type": "identity"},
                        "head": {"type": "softmax_ce"}})
    with pytest.raises(ValueError, match="fusion.type"):
        build_model(cfg, DataContext(num_items=N, num_users=5, max_len=L))


def test_sasrec_id_dropout_hides_item_vectors_in_training_only():
    """DropoutNet-style cold-start training: a random share of the ID rows offered to the head is
    zeroed at each training call (so content views must score those items), never in evaluation."""
    model = model_for({"type": "sasrec", "blocks": 1, "id_dropout": 0.5})
    view = model.views[0]
    full = view.items.weight
    view.train()
    torch.manual_seed(1)
    first, second = view.item_representations(), view.item_representations()
    dropped = (first == 0).all(1)
    assert 0.3 < dropped.float().mean() < 0.7
    assert torch.equal(first[~dropped], full[~dropped])
    assert not torch.equal(dropped, (second == 0).all(1))              # redrawn every step
    view.eval()
    assert torch.equal(view.item_representations(), full)


def test_many_negatives_are_scored_through_the_item_table_with_the_same_logits():
    """gBCE's 256 negatives are scored by one (P, N+1) matmul + gather (cheaper than gathering
    (P, k, d) vectors); the logits must equal the per-negative dot products."""
    from workbench_plugins.heads.bce_impl import pos_neg_logits

    model = model_for(VIEWS[0], {"type": "gbce", "negatives": 8, "t": 0.5}).eval()
    batch = batch_of(left_padded([L, 7, 3]))
    fused, _, _ = model.states(batch)
    torch.manual_seed(3)
    pos, neg_logits, _ = pos_neg_logits(model.head, fused, batch, model.item_embeddings(), 8)
    torch.manual_seed(3)
    h, t = model.head.targets_and_states(fused, batch)
    neg = model.head.sample_uniform((t.shape[0], 8), h.device)
    neg = torch.where(neg == t[:, None], model.head.sample_uniform(neg.shape, h.device), neg)
    items = model.item_embeddings()
    assert 8 * D >= items.shape[0]                                        # the table path is taken
    assert torch.allclose(neg_logits, torch.einsum("pd,pkd->pk", h, items[neg]), atol=1e-5)
    assert torch.allclose(pos, (h * items[t]).sum(-1), atol=1e-5)


@pytest.mark.parametrize("tied", [True, False])
def test_build_model_leaves_its_context_alone_and_tells_the_head_about_the_tied_table(tied):
    cfg = parse_config({"name": "t", "dataset": "d", "model": {"dim": D, "max_len": L, "tied": tied},
                        "views": [{"type": "sasrec", "blocks": 1}], "head": {"type": "softmax_ce"}})
    ctx = DataContext(num_items=N, num_users=5, max_len=L, item_popularity=torch.arange(N + 1).float())
    before = dict(ctx.__dict__)
    model = build_model(cfg, ctx)
    assert ctx.__dict__ == before                                  # nothing set on the caller's context
    assert model.head.ctx.tied_item_table is tied and model.views[0].ctx is ctx
    assert (model.head.own_items is None) is tied                  # untied: the head keeps its own table
