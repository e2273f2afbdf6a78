"""A plain PyTorch SASRec-CE training loop on real ML-1M sequences: the same-machine yardstick.

The brief's "plain loop" figure (~37 s/epoch) was measured on a different CPU (with
AVX512-BF16). This script is that kind of loop, written the straightforward way
(nn.MultiheadAttention with a causal mask, full (B*L, N) logits, per-step loss.item()),
so bench/ml1m.py's engine timings can be compared on *this* machine.

    .venv/bin/python bench/plain_sasrec_loop.py --steps 10
"""

from __future__ import annotations

import argparse
import gzip
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "ml-1m" / "ml-1m.txt.gz"


def load_sequences(max_len: int) -> tuple[np.ndarray, int]:
    """(U, max_len + 1) left-padded training sequences (last two events held out, as in LOO)."""
    seqs: dict[int, list[int]] = {}
    with gzip.open(DATA, "rt") as fh:
        for line in fh:
            u, i = line.split()
            seqs.setdefault(int(u), []).append(int(i))
    n_items = max(max(s) for s in seqs.values())
    out = np.zeros((len(seqs), max_len + 1), dtype=np.int64)
    for row, s in enumerate(seqs.values()):
        s = s[:-2][-(max_len + 1):]
        out[row, -len(s):] = s
    return out, n_items


class PlainSASRec(nn.Module):
    def __init__(self, n_items: int, d: int, max_len: int, blocks: int, dropout: float):
        super().__init__()
        self.items = nn.Embedding(n_items + 1, d, padding_idx=0)
        self.pos = nn.Embedding(max_len, d)
        self.layers = nn.ModuleList(nn.TransformerEncoderLayer(d, 1, 4 * d, dropout, batch_first=True, norm_first=True)
                                    for _ in range(blocks))
        self.norm = nn.LayerNorm(d)
        self.register_buffer("causal", torch.triu(torch.full((max_len, max_len), float("-inf")), 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.items(x) + self.pos.weight[None]
        for layer in self.layers:
            h = layer(h, src_mask=self.causal)
        return self.norm(h)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--max-len", type=int, default=200)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--dropout", type=float, default=0.2)
    args = ap.parse_args()
    data, n_items = load_sequences(args.max_len)
    model = PlainSASRec(n_items, args.dim, args.max_len, 2, args.dropout)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = np.random.default_rng(0)
    times = []
    for step in range(args.steps + 1):
        rows = torch.from_numpy(data[gen.choice(len(data), args.batch_size, replace=False)])
        inp, tgt = rows[:, :-1], rows[:, 1:]
        t0 = time.perf_counter()
        h = model(inp)
        logits = h @ model.items.weight.T                         # (B, L, N+1), every position
        loss = nn.functional.cross_entropy(logits.reshape(-1, n_items + 1), tgt.reshape(-1), ignore_index=0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()
        if step:  # the first step warms up allocators and kernels
            times.append(time.perf_counter() - t0)
    steps_per_epoch = -(-len(data) // args.batch_size)
    med = float(np.median(times))
    print(f"plain loop: {med:.3f} s/step median over {len(times)} steps -> {med * steps_per_epoch:.1f} s/epoch "
          f"({steps_per_epoch} steps), torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"cpu capability {torch.backends.cpu.get_cpu_capability()}")


if __name__ == "__main__":
    main()
