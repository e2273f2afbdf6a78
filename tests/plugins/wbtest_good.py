"""A well-behaved third-party plugin providing one thing of every kind, a workspace table and a command.

The reader and the evaluator are plain Python; the view, fusion and head are torch
modules in ``wbtest_good_impl`` (named by dotted path, imported only when loaded).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.hookspecs import hookimpl
from workbench.kinds import DatasetReader, Evaluator, PluginSpec, RawDataset, Rankings, ReaderError, TableSpec
from workbench.options import option


class UserItemLinesReader(DatasetReader):
    """``user item`` per line, whitespace separated, file order = time order (SASRec's format)."""

    name = "wbtest_lines"

    def detect(self, path: Path) -> float:
        return 0.5 if Path(path).suffix == ".txt" else 0.0

    def read(self, path: Path) -> RawDataset:
        users, items = [], []
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                parts = line.split()
                if not parts:
                    continue
                if len(parts) != 2:
                    raise ReaderError(path, number, None, f"expected 2 fields 'user item', got {len(parts)}")
                users.append(parts[0])
                items.append(parts[1])
        return RawDataset(users=users, items=items)


@dataclass
class HitOptions:
    k: int = option(1, help="cut-off", min=1)


class HitAtK(Evaluator):
    """HitRate@k: share of users whose held-out item is ranked in the top k."""

    name = "wbtest_hit"

    def __init__(self, options: HitOptions | None = None):
        super().__init__(options or HitOptions())

    def evaluate(self, rankings: Rankings) -> dict[str, float]:
        ranks = np.asarray(rankings.target_rank)
        return {f"HitRate@{self.options.k}": float((ranks < self.options.k).mean())}


@dataclass
class MeanViewOptions:
    scale: float = option(1.0, help="multiplies the item embeddings", min=0.0)


@hookimpl
def register_readers(register):
    register(PluginSpec(name="wbtest_lines", kind="reader", factory=UserItemLinesReader,
                        description="user item per line"))


@hookimpl
def register_evaluators(register):
    register(PluginSpec(name="wbtest_hit", kind="evaluator", factory=HitAtK, options=HitOptions,
                        description="HitRate@k"))


@hookimpl
def register_views(register):
    register(PluginSpec(name="wbtest_mean", kind="view", factory="wbtest_good_impl:CumulativeMeanView",
                        options=MeanViewOptions, description="running mean of item embeddings"))


@hookimpl
def register_fusions(register):
    register(PluginSpec(name="wbtest_average", kind="fusion", factory="wbtest_good_impl:AverageFusion",
                        description="unweighted average of the views"))


@hookimpl
def register_heads(register):
    register(PluginSpec(name="wbtest_dot", kind="head", factory="wbtest_good_impl:DotHead",
                        description="dot-product scores, full softmax loss"))


@hookimpl
def register_tables(register):
    register(TableSpec(name="wbtest_cache", columns="key TEXT PRIMARY KEY, value BLOB NOT NULL",
                       description="what the plugin computed once"))


@hookimpl
def register_commands(cli):
    import click

    @cli.command("wbtest-hello")
    @click.argument("who")
    def hello(who):
        """Greets WHO (a command added by a plugin)."""
        click.echo(f"hello {who} from wbtest_good")
