"""A view that fails on purpose in one torchrun rank (for the failing-rank tests of distributed runs).

``wbtest_faulty`` is the running mean of item embeddings (like ``wbtest_mean``) that raises
``RuntimeError`` in its training forward on rank ``fail_rank`` once it has run ``fail_after``
training steps in this process (``RANK`` is what torchrun gives each rank).
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.hookspecs import hookimpl
from workbench.kinds import PluginSpec
from workbench.options import option


@dataclass
class FaultyOptions:
    fail_rank: int = option(1, help="the rank that fails", min=0)
    fail_after: int = option(0, help="training steps that succeed first", min=0)


@hookimpl
def register_views(register):
    register(PluginSpec(name="wbtest_faulty", kind="view", factory="wbtest_faulty_impl:FaultyView",
                        options=FaultyOptions, description="fails on one rank after some steps"))
