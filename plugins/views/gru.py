"""GRU4Rec-style recurrent item-ID view (options and registration; torch-free)."""

from dataclasses import dataclass

from workbench.kinds import PluginSpec
from workbench.options import option


@dataclass
class GRUOptions:
    layers: int = option(1, help="stacked GRU layers", min=1)
    dropout: float = option(0.2, help="dropout on embeddings and between layers", min=0.0, max=0.9)


SPECS = [PluginSpec(
    name="gru", kind="view", factory="workbench_plugins.views.rnn_impl:GRUView", options=GRUOptions,
    description="Item-ID GRU encoder (GRU4Rec-style), causal by construction.")]
