"""SQN head: supervised next-item CE + a Q-learning head trained with TD targets (torch-free spec).

Xin, Karatzoglou, Arapakis, Jose: "Self-Supervised Reinforcement Learning for Recommender
Systems", SIGIR 2020. Rewards come from the target event's action type or, for data
without actions, from its rating.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.kinds import PluginSpec
from workbench.options import ConfigError, option
from workbench_plugins.heads.softmax_ce import SoftmaxCEOptions


def default_rewards() -> dict:
    return {"purchase": 1.0, "cart": 0.5, "click": 0.2, "view": 0.0}


@dataclass
class SQNOptions(SoftmaxCEOptions):
    reward_source: str = option("auto", help="auto: action types when the data has one named in `rewards`, "
                                             "else ratings; actions; ratings", choices=["auto", "actions", "ratings"])
    rewards: dict = option(default_factory=default_rewards,
                           help="reward of a target event by its action type (e.g. purchase 1.0 > cart > click > "
                                "view); action types not listed get `default_reward`")
    default_reward: float = option(0.0, help="reward of an event whose action type is not in `rewards`, or "
                                             "whose rating is missing")
    rating_center: float = option(0.0, help="ratings as reward: (rating - rating_center) * rating_scale")
    rating_scale: float = option(0.2, help="ratings as reward: (rating - rating_center) * rating_scale")
    gamma: float = option(0.5, help="discount factor of the TD target (SQN: 0.5)", min=0.0, max=0.999)
    q_weight: float = option(1.0, help="weight of the TD loss next to the supervised CE (SQN: 1)", min=0.0)
    double_q: bool = option(True, help="double Q-learning: the online Q head picks the next action, the target "
                                       "Q head values it (False: max over the target Q head)")
    tau: float = option(0.01, help="Polyak rate of the target Q head per training step (1 = no target network)",
                        min=0.0, max=1.0)
    score_with: str = option("supervised", help="what ranks items at evaluation: the supervised head (SQN) or "
                                                "the Q values", choices=["supervised", "q"])

    def __post_init__(self):
        for key, value in self.rewards.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"rewards.{key}: expected a number, got {value!r}")
        self.rewards = {str(k): float(v) for k, v in self.rewards.items()}


SPECS = [PluginSpec(
    name="sqn", kind="head", factory="workbench_plugins.heads.sqn_impl:SQNHead", options=SQNOptions,
    description=("SQN (Xin et al., SIGIR 2020): the softmax_ce head plus a Q-learning head on the same sequence "
                 "states, trained with double-Q TD targets r + gamma * Q'(s', argmax Q(s')) on the logged "
                 "sequences; rewards from action types (purchase > cart > click > view) or ratings. Ranks with "
                 "the supervised head by default."))]
