"""Helpers for the engine tests: a workspace holding the generated demo data, imported by the product importer.

No files needed (see :mod:`workbench.data.demo`), so the engine tests run in any clone.
"""

from __future__ import annotations

import shutil
from pathlib import Path

DATASET = "demo"
DEMO_USERS = 600


def demo_workspace(tmp_path_factory, whole_seconds: bool = False) -> Path:
    """A workspace file holding the demo dataset ``demo`` (600 users, 800 items; imported once per
    test module by the product importer, copied per use). ``whole_seconds`` rounds the generated
    times (milliseconds) to whole seconds, as most real logs store them."""
    from workbench.data.demo import DemoSpec, generate, import_demo
    from workbench.data.importer import import_raw
    from workbench.store import open_workspace
    spec = DemoSpec(users=DEMO_USERS)
    path = tmp_path_factory.mktemp("engine") / "ws.db"
    with open_workspace(path, create=True) as ws:
        if whole_seconds:
            raw = generate(spec)
            raw.timestamps = [float(round(t)) for t in raw.timestamps]
            import_raw(ws, raw, name=DATASET, fmt="demo")
        else:
            import_demo(ws, spec, name=DATASET)
        ws.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def demo_dataset(tmp_path_factory, whole_seconds: bool = False):
    """The demo dataset as a :class:`LoadedDataset`, imported by the product importer."""
    from workbench.data.dataset import load_dataset
    from workbench.store import open_workspace
    with open_workspace(demo_workspace(tmp_path_factory, whole_seconds)) as ws:
        return load_dataset(ws, DATASET)


def tiny_gru_toml(*, name: str = "tiny", dim: int = 16, max_len: int = 20, epochs: int = 2,
                  evaluators: tuple[str, ...] = ("ranking",), trainer_lines: str = 'device = "cpu"') -> str:
    """A small GRU + softmax-CE experiment file on the demo dataset, for CLI tests."""
    evals = "".join(f'[[evaluators]]\ntype = "{e}"\nks = [10]\n' for e in evaluators)
    return (f'name = "{name}"\ndataset = "{DATASET}"\n[model]\ndim = {dim}\nmax_len = {max_len}\n'
            f'[[views]]\ntype = "gru"\n[head]\ntype = "softmax_ce"\n{evals}'
            f'[trainer]\nepochs = {epochs}\nbatch_size = 256\nlr = 5e-3\n{trainer_lines}\n')


def copy_workspace(src: Path, dest_dir: Path) -> Path:
    dest = dest_dir / "ws.db"
    shutil.copy(src, dest)
    return dest


def tiny_config(**trainer) -> dict:
    """A small SASRec-CE experiment on the demo dataset (fast on 2 CPU cores)."""
    return {
        "name": "tiny-sasrec", "dataset": DATASET,
        "model": {"dim": 32, "max_len": 50},
        "views": [{"type": "sasrec", "blocks": 1, "heads": 1, "dropout": 0.1}],
        "head": {"type": "softmax_ce"},
        "evaluators": [{"type": "ranking", "ks": [10]}],
        "trainer": {"epochs": 2, "batch_size": 128, "lr": 3e-3, "seed": 7, "patience": 0, **trainer},
    }
