"""Text view: sentence embeddings of item texts, cached, adapted by a learned projection (torch-free spec)."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.kinds import PluginSpec, TableSpec
from workbench.options import option


@dataclass
class TextOptions:
    model: str = option("all-MiniLM-L6-v2", help="bundled all-MiniLM-L6-v2, or the path of a sentence-transformers "
                                                 "model folder (never downloaded)")
    fields: list[str] = option(default_factory=lambda: ["title", "categories", "text"],
                               help="item fields joined into the text, in order: title, categories, text")
    adapter: str = option("mlp", help="projection to the model width", choices=["linear", "mlp", "moe"])
    experts: int = option(4, help="adapters in the mixture (adapter = moe)", min=2, max=32)
    whiten: bool = option(True, help="whiten the text embeddings (PCA on the catalogue) before the adapter")
    whiten_dim: int = option(0, help="keep this many whitened components (0 = all)", min=0)
    context_window: int = option(10, help="events averaged into each state (0 = whole history)", min=0)
    offer_item_embeddings: bool = option(True, help="offer the projected texts as item vectors to the head "
                                                    "(cold start: unseen items can be recommended)")
    dropout: float = option(0.1, help="dropout inside the adapter", min=0.0, max=0.9)
    encode_batch_size: int = option(64, help="texts per encoder batch", min=1)
    encode_device: str = option("auto", help="device of the sentence encoder: auto (cuda, mps, cpu), cpu, cuda, ...")

    def __post_init__(self):
        from workbench.options import ConfigError

        bad = [f for f in self.fields if f not in ("title", "categories", "text")]
        if bad or not self.fields:
            raise ConfigError(f"fields: {bad or self.fields} - choose from title, categories, text")


SPECS = [PluginSpec(
    name="text", kind="view", factory="workbench_plugins.views.text_impl:TextView", options=TextOptions,
    description=("Text view. Reads item titles, categories and texts; embeds them once with a "
                 "sentence-transformers model (offline; cached in the workspace by model and text hash), "
                 "whitens and adapts them (linear, MLP or mixture of adapters). States: the item's text "
                 "vector plus the mean of the recent ones (causal). Offers the projected texts as item "
                 "vectors, so items never seen in training can be recommended."))]

# The embedding cache (workbench_plugins.views._text_cache): a re-run, another experiment or another
# dataset with the same texts never re-encodes them. Same columns as the table that workspaces made by
# earlier versions got from the core migration m003.
TABLES = [TableSpec(
    name="text_embeddings", description="sentence embeddings of item texts, by model key and text hash",
    columns="""
        model TEXT NOT NULL,               -- model key: name or path + fingerprint of its files
        text_hash TEXT NOT NULL,           -- sha256 of the UTF-8 text
        dim INTEGER NOT NULL,
        vector BLOB NOT NULL,              -- float32 little-endian, dim values
        created_at REAL NOT NULL,
        PRIMARY KEY (model, text_hash)
    """)]
