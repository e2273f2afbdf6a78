"""Off-policy REINFORCE with a top-K correction (options in :mod:`.topk_reinforce`).

At every position t with a logged target a_t (the next item) and state s_t (the shared encoder):

    pi(a|s)   = softmax_a(s . v_a)                  the policy, over the items (the head's item vectors)
    beta(a|s) = softmax_a(sg(s) . u_a + b_a)        the behaviour policy: its own item table, the state
                                                    with its gradient stopped (it never trains the encoder)
    R_t       = sum_{k >= 0} gamma^k r_{t+k}        discounted return over the rest of the window
    w_t       = min(pi(a_t|s_t) / beta(a_t|s_t), c)  importance weight (1 with off_policy = false)
    lambda_t  = K (1 - pi(a_t|s_t))^(K-1)           top-K correction (1 with K = 1)

    L = - mean_t [ sg(w_t lambda_t) R_t log pi(a_t|s_t) ] + behaviour_weight * CE(beta(.|s_t), a_t)

sg = stop-gradient: w, lambda and R are constants of the policy gradient, as in Chen et al. (their
eq. 4 / 6 with weight capping). Ranking uses the policy's scores s . v. r_t is the reward of the target
event (action type or rating, as the sqn head).

What it does not do: the paper's softmax over a sampled subset of items (the softmax here is over all
items, a (P, N) logits matrix per batch), its RNN state, trajectory-level weights (the weight is the
per-step one of the paper's first-order approximation), normalised or smoothed importance weights
(only capping), and exploration at serving time (Boltzmann sampling).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from workbench.model.base import SeqBatch
from workbench_plugins.heads._rewards import EventRewards
from workbench_plugins.heads.softmax_ce_impl import SoftmaxCEHead


def discounted_returns(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    """(B, L) rewards (0 where no target) -> (B, L) returns R_t = sum_{t' >= t} gamma^(t' - t) r_t'."""
    L = rewards.shape[1]
    steps = torch.arange(L, device=rewards.device, dtype=torch.float64)
    gap = steps.unsqueeze(0) - steps.unsqueeze(1)                       # (t, t') -> t' - t
    discount = torch.where(gap >= 0, torch.tensor(gamma, dtype=torch.float64, device=rewards.device) ** gap.clamp(min=0),
                           torch.zeros((), dtype=torch.float64, device=rewards.device))
    return (rewards.double() @ discount.T).to(rewards.dtype)


def topk_correction(pi: torch.Tensor, k: int) -> torch.Tensor:
    """lambda_K(pi) = K (1 - pi)^(K - 1) (Chen et al., eq. 6)."""
    return k * (1.0 - pi).pow(k - 1)


class TopKReinforceHead(SoftmaxCEHead):
    """The policy's item vectors are the head's (tied to the views' item table, or its own); the cold-start
    protocol's held-out items are no action of either policy (``SoftmaxCEHead.class_table``)."""

    def __init__(self, options, ctx, dim):
        super().__init__(options, ctx, dim)
        self.behaviour = nn.Embedding(ctx.num_items + 1, dim)
        nn.init.trunc_normal_(self.behaviour.weight, std=0.02)
        self.behaviour_bias = nn.Parameter(torch.zeros(ctx.num_items + 1))
        self.event_rewards = EventRewards(options, ctx, "topk_reinforce")

    def terms(self, fused: torch.Tensor, batch: SeqBatch, item_emb: torch.Tensor | None) -> dict:
        """The loss's parts at the P target positions: log pi(a|s), log beta(a|s), returns, weights,
        lambda (all (P,)); the first two carry gradients."""
        where = batch.targets > 0
        h, t = fused[where], batch.targets[where]
        rewards = torch.zeros(where.shape, dtype=torch.float32, device=fused.device)
        rewards[where] = self.event_rewards(batch, where).float()
        items, c = self.class_table(self.items(item_emb), t)
        log_pi = F.log_softmax((h @ items.to(h.dtype).T).float(), dim=-1).gather(-1, c.unsqueeze(-1)).squeeze(-1)
        u, _ = self.class_table(self.behaviour.weight, t)
        b, _ = self.class_table(self.behaviour_bias, t)
        beta_logits = (h.detach() @ u.to(h.dtype).T).float() + b.float()
        log_beta = F.log_softmax(beta_logits, dim=-1).gather(-1, c.unsqueeze(-1)).squeeze(-1)
        o = self.options
        with torch.no_grad():
            pi = log_pi.exp()
            weight = ((log_pi - log_beta).exp().clamp(max=o.weight_cap) if o.off_policy
                      else torch.ones_like(log_pi))
            lam = topk_correction(pi, o.top_k)
            returns = discounted_returns(rewards, o.gamma)[where]
        return {"log_pi": log_pi, "log_beta": log_beta, "returns": returns, "weight": weight, "lambda": lam}

    def loss(self, fused: torch.Tensor, batch: SeqBatch, item_emb: torch.Tensor | None) -> torch.Tensor:
        if not bool((batch.targets > 0).any()):
            return fused.sum() * 0.0
        x = self.terms(fused, batch, item_emb)
        policy = -(x["weight"] * x["lambda"] * x["returns"] * x["log_pi"]).mean()
        behaviour = -x["log_beta"].mean()
        return policy + self.options.behaviour_weight * behaviour
