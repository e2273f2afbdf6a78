"""SQN head (options in :mod:`.sqn`).

Loss at every position t with a target a_t (the next logged item):

    L = CE(supervised logits(s_t), a_t) + q_weight * mean_t 0.5 * (Q(s_t, a_t) - y_t)^2
    y_t = r_t + gamma * (1 - done_t) * Q'(s_{t+1}, argmax_a Q(s_{t+1}, a))      (double Q)
    y_t = r_t + gamma * (1 - done_t) * max_a Q'(s_{t+1}, a)                      (double_q = false)

s_t is the fused state at position t (the shared encoder), s_{t+1} the state one position
later, which has a_t as its latest input; done_t at the last position of a window (no next
state). Q is a linear layer d -> N+1 of its own; Q' is its Polyak-averaged copy (``tau`` per
training step), kept as buffers so it is checkpointed. y_t carries no gradient; the TD loss
trains the Q layer and, through Q(s_t, .), the encoder. Column 0 (padding) is never chosen.
Rewards: r_t = rewards[action type of the target event], or (rating - center) * scale.

What it does not do: the SQN paper's two alternating model copies (here one encoder, a
target Q head), SAC's advantage-weighted CE, or off-policy REINFORCE with top-K correction.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from workbench.model.base import SeqBatch
from workbench_plugins.heads._rewards import EventRewards
from workbench_plugins.heads.softmax_ce_impl import SoftmaxCEHead


def td_targets(rewards: torch.Tensor, next_q_online: torch.Tensor, next_q_target: torch.Tensor,
               done: torch.Tensor, gamma: float, double_q: bool = True) -> torch.Tensor:
    """TD targets (P,): ``rewards`` (P,), next-state Q values (P, A) of the online and target heads
    (columns that may not be chosen set to -inf), ``done`` (P,) bool."""
    if double_q:
        best = next_q_online.argmax(-1, keepdim=True)
        value = next_q_target.gather(-1, best).squeeze(-1)
    else:
        value = next_q_target.max(-1).values
    value = torch.where(done, torch.zeros_like(value), value)
    return rewards + gamma * value


class SQNHead(SoftmaxCEHead):
    def __init__(self, options, ctx, dim):
        super().__init__(options, ctx, dim)
        n = ctx.num_items + 1
        self.q = nn.Linear(dim, n)
        nn.init.trunc_normal_(self.q.weight, std=0.02)
        nn.init.zeros_(self.q.bias)
        self.register_buffer("q_target_weight", self.q.weight.detach().clone())
        self.register_buffer("q_target_bias", self.q.bias.detach().clone())
        self.event_rewards = EventRewards(options, ctx, "sqn")

    def rewards(self, batch: SeqBatch, where: torch.Tensor) -> torch.Tensor:
        """(P,) rewards of the target events at positions ``where`` (B, L) bool."""
        return self.event_rewards(batch, where)

    # ------------------------------------------------------------ Q values
    def q_values(self, states: torch.Tensor) -> torch.Tensor:
        """(..., d) -> (..., N+1) online Q values, column 0 = -inf (padding is never an action)."""
        q = self.q(states.to(self.q.weight.dtype)).float()
        return q.index_fill(-1, torch.tensor([0], device=q.device), float("-inf"))

    def target_q_values(self, states: torch.Tensor) -> torch.Tensor:
        q = F.linear(states.to(self.q_target_weight.dtype), self.q_target_weight, self.q_target_bias).float()
        return q.index_fill(-1, torch.tensor([0], device=q.device), float("-inf"))

    @torch.no_grad()
    def update_target(self) -> None:
        tau = self.options.tau
        self.q_target_weight.lerp_(self.q.weight.detach(), tau)
        self.q_target_bias.lerp_(self.q.bias.detach(), tau)

    def td_loss(self, fused: torch.Tensor, batch: SeqBatch) -> torch.Tensor:
        where = batch.targets > 0                                            # (B, L)
        if not bool(where.any()):
            return fused.sum() * 0.0
        B, L, d = fused.shape
        q_sa = self.q_values(fused[where]).gather(-1, batch.targets[where].unsqueeze(-1)).squeeze(-1)   # (P,)
        with torch.no_grad():
            nxt = torch.cat([fused[:, 1:], fused.new_zeros(B, 1, d)], dim=1).detach()      # state at t + 1
            has_next = torch.cat([batch.items[:, 1:] > 0, batch.items.new_zeros(B, 1, dtype=torch.bool)], dim=1)
            s_next = nxt[where]
            y = td_targets(self.rewards(batch, where).float(), self.q_values(s_next), self.target_q_values(s_next),
                           ~has_next[where], self.options.gamma, self.options.double_q)
        return 0.5 * (q_sa - y).pow(2).mean()

    # ------------------------------------------------------------ head contract
    def loss(self, fused: torch.Tensor, batch: SeqBatch, item_emb: torch.Tensor | None) -> torch.Tensor:
        if self.training and torch.is_grad_enabled() and self.options.tau < 1.0:
            self.update_target()
        elif self.options.tau >= 1.0:
            with torch.no_grad():
                self.q_target_weight.copy_(self.q.weight)
                self.q_target_bias.copy_(self.q.bias)
        supervised = super().loss(fused, batch, item_emb)
        if self.options.q_weight == 0:
            return supervised
        return supervised + self.options.q_weight * self.td_loss(fused, batch)

    def score_table(self, item_emb: torch.Tensor | None) -> torch.Tensor | None:
        """The item table when ranking with the supervised head (a plain dot product), else None."""
        return self.items(item_emb) if self.options.score_with == "supervised" else None

    def score(self, user_states: torch.Tensor, item_emb: torch.Tensor | None, batch: SeqBatch) -> torch.Tensor:
        if self.options.score_with == "q":
            return self.q(user_states.to(self.q.weight.dtype)).float()
        return super().score(user_states, item_emb, batch)
