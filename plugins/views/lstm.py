"""LSTM recurrent item-ID view (options and registration; torch-free)."""

from workbench.kinds import PluginSpec
from workbench_plugins.views.gru import RNNOptions

SPECS = [PluginSpec(
    name="lstm", kind="view", factory="workbench_plugins.views.rnn_impl:LSTMView", options=RNNOptions,
    description="Item-ID LSTM encoder, causal by construction.")]
