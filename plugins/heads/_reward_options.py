"""Reward options shared by the RL heads (``sqn``, ``topk_reinforce``; torch-free): a target event's reward
from its action type (purchase > cart > click > view, configurable) or, for data without action types, from
its rating."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.options import ConfigError, option


def default_rewards() -> dict:
    return {"purchase": 1.0, "cart": 0.5, "click": 0.2, "view": 0.0}


@dataclass
class RewardOptions:
    reward_source: str = option("auto", help="auto: action types when the data has one named in `rewards`, "
                                             "else ratings; actions; ratings", choices=["auto", "actions", "ratings"])
    rewards: dict = option(default_factory=default_rewards,
                           help="reward of a target event by its action type (e.g. purchase 1.0 > cart > click > "
                                "view); action types not listed get `default_reward`")
    default_reward: float = option(0.0, help="reward of an event whose action type is not in `rewards`, or "
                                             "whose rating is missing")
    rating_center: float = option(0.0, help="ratings as reward: (rating - rating_center) * rating_scale")
    rating_scale: float = option(0.2, help="ratings as reward: (rating - rating_center) * rating_scale")

    def __post_init__(self):
        for key, value in self.rewards.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"rewards.{key}: expected a number, got {value!r}")
        self.rewards = {str(k): float(v) for k, v in self.rewards.items()}
