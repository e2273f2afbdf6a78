"""SQN head: supervised next-item CE + a Q-learning head trained with TD targets (torch-free spec).

Xin, Karatzoglou, Arapakis, Jose: "Self-Supervised Reinforcement Learning for Recommender
Systems", SIGIR 2020. Rewards come from the target event's action type or, for data
without actions, from its rating.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.kinds import PluginSpec
from workbench.options import option
from workbench_plugins.heads._reward_options import RewardOptions
from workbench_plugins.heads.softmax_ce import SoftmaxCEOptions


@dataclass
class SQNOptions(RewardOptions, SoftmaxCEOptions):
    gamma: float = option(0.5, help="discount factor of the TD target (SQN: 0.5)", min=0.0, max=0.999)
    q_weight: float = option(1.0, help="weight of the TD loss next to the supervised CE (SQN: 1)", min=0.0)
    double_q: bool = option(True, help="double Q-learning: the online Q head picks the next action, the target "
                                       "Q head values it (False: max over the target Q head)")
    tau: float = option(0.01, help="Polyak rate of the target Q head per training step (1 = no target network)",
                        min=0.0, max=1.0)
    score_with: str = option("supervised", help="what ranks items at evaluation: the supervised head (SQN) or "
                                                "the Q values", choices=["supervised", "q"])


SPECS = [PluginSpec(
    name="sqn", kind="head", factory="workbench_plugins.heads.sqn_impl:SQNHead", options=SQNOptions,
    description=("SQN (Xin et al., SIGIR 2020): the softmax_ce head plus a Q-learning head on the same sequence "
                 "states, trained with double-Q TD targets r + gamma * Q'(s', argmax Q(s')) on the logged "
                 "sequences; rewards from action types (purchase > cart > click > view) or ratings. Ranks with "
                 "the supervised head by default."))]
