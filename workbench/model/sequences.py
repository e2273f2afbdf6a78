"""Per-user item-id sequences stored as two numpy columns (numpy only, no torch).

``ItemSequences`` is what :class:`workbench.model.base.DataContext` holds as ``train_sequences``:
the items of every user's training history, concatenated (``values``) with the start of each
user's run (``offsets``, length U+2: user u's items are ``values[offsets[u]:offsets[u+1]]``).
At 30M training events this is 0.24 GB of int64 where a list of Python ints per user was
about 1 GB. Plugins that want one user's list still index it (``seqs[u]`` is a ``list[int]``,
built on demand) or iterate over it; vectorised code reads ``values``, ``offsets`` and ``lengths``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class ItemSequences(Sequence):
    """A read-only sequence of item-id lists backed by ``offsets`` (R+1,) and ``values`` (offsets[-1],)."""

    def __init__(self, offsets: np.ndarray, values: np.ndarray):
        offsets = np.asarray(offsets, dtype=np.int64)
        if offsets.ndim != 1 or len(offsets) == 0 or offsets[0] != 0 or (np.diff(offsets) < 0).any() \
                or offsets[-1] != len(values):
            raise ValueError("ItemSequences: offsets must start at 0, never decrease and end at len(values)")
        self.offsets, self.values = offsets, np.asarray(values)

    @classmethod
    def from_lists(cls, sequences) -> "ItemSequences":
        """From any iterable of item-id iterables (e.g. ``[[], [3, 1], [2]]``)."""
        if isinstance(sequences, ItemSequences):
            return sequences
        chunks = [np.asarray(s, dtype=np.int64).reshape(-1) for s in sequences]
        lengths = np.fromiter((len(c) for c in chunks), dtype=np.int64, count=len(chunks))
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        values = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)
        return cls(offsets, values.astype(np.int64, copy=False))

    @property
    def lengths(self) -> np.ndarray:
        """(R,) number of items of each sequence."""
        return np.diff(self.offsets)

    def rows(self) -> np.ndarray:
        """(len(values),) the sequence index of every value (for building sparse matrices)."""
        return np.repeat(np.arange(len(self), dtype=np.int64), self.lengths)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        i = int(index)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"sequence {index} out of range 0..{len(self) - 1}")
        return self.values[self.offsets[i]:self.offsets[i + 1]].tolist()

    def __iter__(self):
        for i in range(len(self)):
            yield self.values[self.offsets[i]:self.offsets[i + 1]].tolist()

    def __repr__(self) -> str:
        return f"ItemSequences({len(self)} sequences, {len(self.values)} items)"
