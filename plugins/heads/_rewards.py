"""Rewards of target events for the RL heads (torch; options in :mod:`._reward_options`)."""

from __future__ import annotations

import torch

from workbench.model.base import SeqBatch


class EventRewards(torch.nn.Module):
    """r = rewards[action type of the target event], or (rating - center) * scale when the data has no
    action type named in ``rewards`` (``reward_source = "auto"``)."""

    def __init__(self, options, ctx, head: str):
        super().__init__()
        self.options, self.head = options, head
        table = None
        if options.reward_source != "ratings":
            known = [a for a in ctx.actions if a in options.rewards]
            if known:
                table = torch.full((len(ctx.actions) + 1,), float(options.default_reward))
                for k, a in enumerate(ctx.actions, start=1):
                    table[k] = options.rewards.get(a, options.default_reward)
            elif options.reward_source == "actions":
                raise ValueError(f"head.rewards: none of the dataset's action types "
                                 f"({', '.join(ctx.actions) or 'none'}) is named in rewards "
                                 f"({', '.join(options.rewards)}); name them, or use reward_source = \"ratings\"")
        self.register_buffer("reward_of_action", table, persistent=False)

    def forward(self, batch: SeqBatch, where: torch.Tensor) -> torch.Tensor:
        """(P,) rewards of the target events at positions ``where`` (B, L) bool."""
        o = self.options
        if self.reward_of_action is not None and batch.target_actions is not None:
            return self.reward_of_action[batch.target_actions[where]]
        if batch.target_values is None:
            raise ValueError(f"heads.{self.head}: no rewards: the dataset has no action type named in head.rewards "
                             "and no ratings (event values); import ratings or actions, or set head.rewards")
        values = batch.target_values[where].float()
        r = (values - o.rating_center) * o.rating_scale
        return torch.where(torch.isnan(values), torch.full_like(r, o.default_reward), r)
