"""Off-policy REINFORCE with a top-K correction (torch-free spec).

Chen, Beutel, Covington, Jain, Belletti, Chi: "Top-K Off-Policy Correction for a REINFORCE Recommender
System", WSDM 2019. Rewards come from the target event's action type or, for data without actions,
from its rating (the options shared with ``sqn``).
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.kinds import PluginSpec
from workbench.options import option
from workbench_plugins.heads._reward_options import RewardOptions


@dataclass
class TopKReinforceOptions(RewardOptions):
    top_k: int = option(10, help="K of the top-K correction: the policy recommends K items, the gradient is "
                                 "scaled by lambda_K = K (1 - pi(a|s))^(K-1); 1: plain REINFORCE", min=1, max=1000)
    gamma: float = option(0.5, help="discount of the return R_t = sum_k gamma^k r_(t+k) over the rest of the "
                                    "window", min=0.0, max=0.999)
    off_policy: bool = option(True, help="importance weight pi(a|s) / beta(a|s) with the learned behaviour "
                                         "policy beta (False: on-policy REINFORCE on the logged actions)")
    weight_cap: float = option(10.0, help="cap c of the importance weight: min(pi / beta, c)", min=1.0)
    behaviour_weight: float = option(1.0, help="weight of the behaviour policy's cross-entropy (its gradient "
                                               "never reaches the encoder)", min=0.0)


SPECS = [PluginSpec(
    name="topk_reinforce", kind="head", factory="workbench_plugins.heads.topk_reinforce_impl:TopKReinforceHead",
    options=TopKReinforceOptions,
    description=("Off-policy REINFORCE with top-K correction (Chen et al., WSDM 2019): a softmax policy over all "
                 "items trained on logged sequences with discounted returns from action-type or rating rewards, "
                 "importance weights pi/beta (capped) from a behaviour-policy head that sees the states without "
                 "back-propagating into them, and lambda_K = K (1 - pi)^(K-1). Ranks with the policy."))]
