"""Interest head: sigmoid(W_h h + W_v v + b) scoring trained with BCE on sampled negatives (torch-free spec)."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.kinds import PluginSpec
from workbench.options import option


@dataclass
class InterestOptions:
    num_negatives: int = option(4, help="uniformly sampled negative items per positive", min=1, max=1024)
    item_bias: bool = option(True, help="learn a per-item bias b_i")


SPECS = [PluginSpec(
    name="interest", kind="head", factory="workbench_plugins.heads.interest_impl:InterestHead",
    options=InterestOptions,
    description=("CTR-style interest head: p(y=1 | u, i) = sigmoid(e_i . (W f_u) + b_i) where f_u is the fused "
                 "state (a weighted fusion of h and v makes W f_u = W_h h + W_v v); trained with binary "
                 "cross-entropy on the next item against sampled negatives. score() returns the logit."))]
