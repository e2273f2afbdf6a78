"""VAE latent view: variational latent per position on top of an autoregressive encoder (torch-free spec)."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.kinds import PluginSpec
from workbench.options import option


@dataclass
class VAEOptions:
    encoder: str = option("gru", help="autoregressive state h_t", choices=["gru", "lstm", "transformer"])
    layers: int = option(1, help="encoder layers", min=1, max=8)
    heads: int = option(2, help="attention heads (encoder = transformer)", min=1, max=16)
    beta: float = option(0.2, help="weight of the KL term after annealing", min=0.0)
    anneal_steps: int = option(2000, help="training steps over which the KL weight rises linearly from 0 to beta "
                                          "(0 = no annealing)", min=0)
    output: str = option("latent", help="states: the latent v, or h + v",
                         choices=["latent", "state_plus_latent"])
    dropout: float = option(0.1, help="dropout on inputs and states", min=0.0, max=0.9)
    offer_item_embeddings: bool = option(False, help="offer this view's ID table to the head (tied)")


SPECS = [PluginSpec(
    name="vae", kind="view", factory="workbench_plugins.views.vae_impl:VAEView", options=VAEOptions,
    description=("VAE latent view. Reads item ids: an autoregressive encoder (GRU, LSTM or causal Transformer) "
                 "gives h_t; q(v_t | h_t) = N(mu(h_t), sigma(h_t)^2) gives a latent v_t per position "
                 "(sampled in training, the mean at evaluation) with the KL to N(0, I) as an auxiliary loss "
                 "(weight beta, linear annealing). With another view's h, the weighted fusion and the interest head: "
                 "p(y|u) = sigmoid(a W h + (1 - a) W v + b), close to the research note's sigmoid(W_h h + W_v v + b) "
                 "(one W scaled by the fusion's weights; this view has its own encoder)."))]
