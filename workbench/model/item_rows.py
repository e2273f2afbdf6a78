"""Row gathers from embedding tables that keep a row-sparse gradient where the trainer asked for one.

With ``trainer.sparse_tables`` on (see :mod:`workbench.engine.sparse_tables`) the large
``nn.Embedding`` tables of a model are switched to sparse gradients and their weights marked.
A plugin that reads rows of such a table by index (a head scoring targets and sampled
negatives) calls :func:`gather_rows` instead of ``table[index]``: the gradient then holds only
the rows it read, and the optimiser updates only those. On an unmarked tensor (a dense table,
a combination of tables, any non-leaf) it is exactly ``table[index]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

SPARSE_ROWS_MARK = "_workbench_sparse_rows"


def has_sparse_rows(table: torch.Tensor) -> bool:
    """Whether ``table`` is a weight switched to row-sparse gradients."""
    return bool(getattr(table, SPARSE_ROWS_MARK, False))


def gather_rows(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``table[index]`` (index any shape of row ids) -> index.shape + (d,); sparse gradient on a marked table."""
    if has_sparse_rows(table):
        return F.embedding(index, table, sparse=True)
    return table[index]
