"""LSTM recurrent item-ID view (options and registration; torch-free)."""

from dataclasses import dataclass

from workbench.kinds import PluginSpec
from workbench.options import option


@dataclass
class LSTMOptions:
    layers: int = option(1, help="stacked LSTM layers", min=1)
    dropout: float = option(0.2, help="dropout on embeddings and between layers", min=0.0, max=0.9)


SPECS = [PluginSpec(
    name="lstm", kind="view", factory="workbench_plugins.views.rnn_impl:LSTMView", options=LSTMOptions,
    description="Item-ID LSTM encoder, causal by construction.")]
