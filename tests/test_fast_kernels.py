"""The CPU fast paths the trainer relies on: cheap dropout masks and the fused softmax CE."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from workbench.model.dropout import Dropout, dropout, keep_mask
from workbench_plugins.heads._chunked_ce import chunked_softmax_ce


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_keep_mask_has_the_asked_rate(p):
    torch.manual_seed(0)
    keep = keep_mask((400, 500), p)
    assert keep.dtype == torch.bool and keep.shape == (400, 500)
    assert abs(keep.float().mean().item() - (1 - p)) < 0.005      # 200k draws: sd ~0.001
    # lanes of one draw are independent: neighbours agree as often as chance says
    a, b = keep.flatten()[0::2].float(), keep.flatten()[1::2].float()
    assert abs((a * b).mean().item() - (1 - p) ** 2) < 0.006


def test_dropout_is_inverted_reproducible_and_off_in_eval():
    x = torch.ones(300, 300, requires_grad=True)
    torch.manual_seed(3)
    y = dropout(x, 0.2)
    torch.manual_seed(3)
    assert torch.equal(y, dropout(x, 0.2))                       # torch.manual_seed drives it
    assert y.unique().tolist() == [0.0, pytest.approx(1.25)]
    assert abs(y.mean().item() - 1.0) < 0.01                     # expectation kept
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())                       # gradient flows through kept elements only
    module = Dropout(0.2).eval()
    assert module(x) is x and dropout(x, 0.2, training=False) is x and dropout(x, 0.0) is x


def test_dropout_keeps_bf16():
    x = torch.randn(64, 64, dtype=torch.bfloat16)
    assert dropout(x, 0.1).dtype == torch.bfloat16


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_fused_ce_matches_autograd_cross_entropy(smoothing):
    torch.manual_seed(1)
    h = (torch.randn(70, 8) * 3).requires_grad_()       # large logits: the lse must not underflow
    E = torch.randn(30, 8, requires_grad=True)
    t = torch.randint(0, 30, (70,))
    a = chunked_softmax_ce(h, E, t, chunk=16, smoothing=smoothing)
    ga = torch.autograd.grad(a * 2.5, [h, E])                   # upstream scale reaches both gradients
    b = F.cross_entropy(h @ E.T, t, label_smoothing=smoothing)
    gb = torch.autograd.grad(b * 2.5, [h, E])
    assert torch.allclose(a, b, atol=1e-5)
    assert all(torch.allclose(x, y, atol=1e-5) for x, y in zip(ga, gb))


def test_fused_ce_under_bf16_autocast_is_close_to_fp32():
    torch.manual_seed(2)
    h = torch.randn(300, 16, requires_grad=True)
    E = torch.randn(200, 16, requires_grad=True)
    t = torch.randint(0, 200, (300,))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        a = chunked_softmax_ce(h, E, t, chunk=64)
    ga = torch.autograd.grad(a, [h, E])
    b = F.cross_entropy(h @ E.T, t)
    gb = torch.autograd.grad(b, [h, E])
    assert a.dtype == torch.float32 and abs(a.item() - b.item()) < 0.05 * b.item()
    for x, y in zip(ga, gb):
        assert x.dtype == torch.float32
        assert F.cosine_similarity(x.flatten(), y.flatten(), dim=0) > 0.99


def test_fused_ce_without_grad_gives_the_loss_only():
    torch.manual_seed(4)
    h, E, t = torch.randn(20, 4), torch.randn(9, 4), torch.randint(0, 9, (20,))
    with torch.no_grad():
        a = chunked_softmax_ce(h, E, t, chunk=8)
    assert torch.allclose(a, F.cross_entropy(h @ E.T, t), atol=1e-6)
    E.requires_grad_()
    (g,) = torch.autograd.grad(chunked_softmax_ce(h, E, t, chunk=8), [E])   # only E needs a gradient
    (ref,) = torch.autograd.grad(F.cross_entropy(h @ E.T, t), [E])
    assert torch.allclose(g, ref, atol=1e-6)
