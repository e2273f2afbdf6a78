"""Precomputed-feature view (torch implementation); options in :mod:`.precomputed`.

Alignment:
- with ``ids_path``: line k of the ids file (raw item id, as in the imported data)
  names row k of the matrix; ids not in the dataset are ignored, dataset items
  without a row get zeros. Needs the raw ids in ``ctx.item_raw_ids``
  ((N+1,) list, index 0 empty).
- without: rows are internal item ids, N+1 rows (row 0 = padding) or N rows (items 1..N).
``.parquet`` needs pyarrow (not a dependency): one list/array column ``vector``
and, unless ``ids_path`` is given, the rows follow internal ids; a column ``id``
aligns rows to raw ids.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from workbench.model.base import DataContext, SeqBatch, View, ViewOutput
from workbench.model.dropout import Dropout
from workbench_plugins.views._pooling import causal_window_mean


def _read_matrix(path: Path) -> tuple[np.ndarray, list[str] | None]:
    if path.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise ValueError(f"views.precomputed.path: {path} is .parquet but pyarrow is not installed; "
                             f"`pip install pyarrow` or save the vectors with numpy.save as .npy") from None
        table = pq.read_table(path)
        if "vector" not in table.column_names:
            raise ValueError(f"views.precomputed.path: {path} has no column 'vector' "
                             f"(columns: {', '.join(table.column_names)})")
        matrix = np.asarray(table.column("vector").to_pylist(), dtype=np.float32)
        ids = [str(x) for x in table.column("id").to_pylist()] if "id" in table.column_names else None
        return matrix, ids
    try:
        matrix = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ValueError(f"views.precomputed.path: {path} does not exist") from None
    except ValueError as e:
        raise ValueError(f"views.precomputed.path: {path} is not a readable .npy array ({e})") from None
    return matrix, None


def load_item_matrix(options, ctx: DataContext) -> tuple[torch.Tensor, torch.Tensor]:
    """-> features (N+1, F) float and has_vector (N+1,) bool."""
    path = Path(options.path).expanduser()
    matrix, ids = _read_matrix(path)
    if matrix.ndim != 2 or not np.issubdtype(matrix.dtype, np.number):
        raise ValueError(f"views.precomputed.path: {path} must hold a 2-D numeric array (items x features), "
                         f"got shape {matrix.shape} dtype {matrix.dtype}")
    bad = ~np.isfinite(matrix).all(axis=1)
    if bad.any():
        raise ValueError(f"views.precomputed.path: {path} row {int(np.argmax(bad))} has NaN or infinite values")
    n = ctx.num_items + 1
    out = np.zeros((n, matrix.shape[1]), dtype=np.float32)
    has = np.zeros(n, dtype=bool)
    if options.ids_path:
        ids_file = Path(options.ids_path).expanduser()
        if not ids_file.exists():
            raise ValueError(f"views.precomputed.ids_path: {ids_file} does not exist")
        ids = [line.strip() for line in ids_file.read_text(encoding="utf-8").splitlines()]
        if ids and ids[-1] == "":
            ids = ids[:-1]
    if ids is not None:
        if len(ids) != matrix.shape[0]:
            raise ValueError(f"views.precomputed.ids_path: {len(ids)} ids for {matrix.shape[0]} rows in {path}")
        raw = ctx.item_raw_ids
        if not raw:
            raise ValueError("views.precomputed.ids_path: this dataset context carries no raw item ids "
                             "(ctx.item_raw_ids); align the rows to internal ids instead")
        row_of = {r: k for k, r in enumerate(ids)}
        for item in range(1, n):
            k = row_of.get(str(raw[item]))
            if k is not None:
                out[item], has[item] = matrix[k], True
        if not has.any():
            raise ValueError(f"views.precomputed.ids_path: none of the {len(ids)} ids matches an item of the dataset")
    elif matrix.shape[0] == n:
        out[1:], has[1:] = matrix[1:], True
    elif matrix.shape[0] == n - 1:
        out[1:], has[1:] = matrix, True
    else:
        raise ValueError(f"views.precomputed.path: {path} has {matrix.shape[0]} rows; without ids_path it needs "
                         f"{n} (row 0 = padding) or {n - 1} rows (items 1..{n - 1})")
    return torch.from_numpy(out), torch.from_numpy(has)


class PrecomputedView(View):
    def __init__(self, options, ctx: DataContext, dim: int):
        super().__init__(options, ctx, dim)
        features, has = load_item_matrix(options, ctx)
        if options.normalize:
            rows = features[has]
            mu, sd = rows.mean(0), rows.std(0) if rows.shape[0] > 1 else torch.ones(rows.shape[1])
            features = torch.where(has.unsqueeze(1), (features - mu) / sd.clamp(min=1e-6), features)
        self.register_buffer("features", features, persistent=False)
        self.register_buffer("has_vector", has, persistent=False)
        F_ = features.shape[1]
        self.proj = nn.Sequential(nn.Linear(F_, dim * 2), nn.GELU(), Dropout(options.dropout),
                                  nn.Linear(dim * 2, dim))
        self.norm = nn.LayerNorm(dim)
        self.out_norm = nn.LayerNorm(dim)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x))

    def forward(self, batch: SeqBatch) -> ViewOutput:
        mask = batch.mask & self.has_vector[batch.items]
        x = self.project(self.features[batch.items]) * mask.unsqueeze(-1).to(self.features.dtype)
        states = self.out_norm(x + causal_window_mean(x, mask, self.options.context_window))
        return ViewOutput(states * batch.mask.unsqueeze(-1).to(states.dtype))

    def item_representations(self) -> torch.Tensor | None:
        if not self.options.offer_item_embeddings:
            return None
        return self.project(self.features) * self.has_vector.unsqueeze(1).to(self.features.dtype)
