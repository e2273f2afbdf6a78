"""Interest head: sigmoid(e_i . (W f_u) + b_i) scoring trained with BCE on sampled negatives (torch-free spec)."""

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
                 "state (with a weighted fusion of two views, W f_u = a W h + (1 - a) W v: one matrix W scaled by the "
                 "fusion's weights); trained with binary "
                 "cross-entropy on the next item against sampled negatives. score() returns the logit."))]
