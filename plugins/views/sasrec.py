"""SASRec-style item-ID Transformer view (options and registration; torch-free)."""

from dataclasses import dataclass

from workbench.kinds import PluginSpec
from workbench.options import option


@dataclass
class SASRecOptions:
    blocks: int = option(2, help="Transformer blocks", min=1)
    heads: int = option(1, help="attention heads (must divide model.dim)", min=1)
    dropout: float = option(0.2, help="dropout on embeddings, residual branches and feed-forward", min=0.0, max=0.9)
    attn_dropout: float = option(0.0, help="dropout on attention probabilities (0 = fused attention kernel, faster)",
                                 min=0.0, max=0.9)
    norm: str = option("pre", help="LayerNorm placement: pre-LN, post-LN, or the original SASRec code's layout "
                       "(LayerNorm on the attention queries only, residual from the normalized input)",
                       choices=["pre", "post", "sasrec"])
    positions: str = option("from_end", help="learned position of an event: counted back from the latest event "
                            "(the latest is always L-1) or forward from the first event of the window (the "
                            "latest then tells how long the history is, up to L)",
                            choices=["from_end", "from_start"])
    ffn_mult: int = option(1, help="feed-forward width as a multiple of dim", min=1)
    scale_embeddings: bool = option(True, help="multiply item embeddings by sqrt(dim) (as SASRec)")
    id_dropout: float = option(0.0, help="cold start (DropoutNet): in training, drop this share of items' ID "
                               "vectors from the item table offered to the head, so content views learn to score "
                               "items alone", min=0.0, max=0.9)


SPECS = [PluginSpec(
    name="sasrec", kind="view", factory="workbench_plugins.views.sasrec_impl:SASRecView",
    options=SASRecOptions,
    description="Item-ID Transformer encoder (SASRec): learned positions, causal attention, pre/post-LN.")]
