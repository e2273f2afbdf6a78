"""The hooks a Workbench plugin can implement.

Every kind hook takes a ``register`` callback, so one plugin module can add zero,
one or many things without returning lists. What is registered is a
:class:`workbench.kinds.PluginSpec`: a name, an options dataclass and the dotted
path of the implementation. The implementation (which usually imports torch) is
only imported when a run actually builds it, so listing plugins, the CLI and the
TUI stay fast.

None of the kind hooks is ``firstresult``: every plugin gets to register. They
are not ``historic`` either: the registry is built once, after all plugins are
loaded.
"""

import pluggy

hookspec = pluggy.HookspecMarker("workbench")
hookimpl = pluggy.HookimplMarker("workbench")


@hookspec
def register_views(register):
    """Register view encoders: ``register(PluginSpec(kind="view", ...))``.

    A view turns a batch of behaviour sequences into causal per-position states
    of shape (B, L, d), may add an auxiliary loss, and may provide item
    representations (N+1, d) to the head. Contract: :class:`workbench.model.base.View`.
    """


@hookspec
def register_fusions(register):
    """Register fusion strategies: ``register(PluginSpec(kind="fusion", ...))``.

    A fusion combines the states of V views, each (B, L, d), into one (B, L, d)
    and exposes its per-view weights (B, L, V) so recommendations can be
    explained. Contract: :class:`workbench.model.base.Fusion`.
    """


@hookspec
def register_heads(register):
    """Register recommender heads: ``register(PluginSpec(kind="head", ...))``.

    A head scores items from fused states and item representations and gives
    the training loss. Contract: :class:`workbench.model.base.Head`.
    """


@hookspec
def register_evaluators(register):
    """Register evaluators: ``register(PluginSpec(kind="evaluator", ...))``.

    An evaluator turns a batch of rankings (:class:`workbench.kinds.Rankings`)
    into named metrics. Contract: :class:`workbench.kinds.Evaluator`.
    """


@hookspec
def register_readers(register):
    """Register dataset readers: ``register(PluginSpec(kind="reader", ...))``.

    A reader recognises a file layout (``detect``) and parses it into a
    :class:`workbench.kinds.RawDataset`, raising :class:`workbench.kinds.ReaderError`
    with file, line and field on bad input. Contract: :class:`workbench.kinds.DatasetReader`.
    """


@hookspec
def register_tables(register):
    """Register workspace tables the plugin keeps: ``register(TableSpec(name=..., columns=...))``.

    Workbench creates such a table in a workspace (``CREATE TABLE IF NOT EXISTS``) the
    first time the plugin asks for it with :func:`workbench.store.plugin_tables.plugin_table`.
    Names are unique across plugins; a plugin cannot take a core table's name.
    Contract: :class:`workbench.kinds.TableSpec`.
    """


@hookspec
def register_commands(cli):
    """Add commands to the ``workbench`` command line.

    ``cli`` is the root :class:`click.Group`; decorate new functions with
    ``@cli.command()`` or add groups with ``cli.add_command``. Called once when
    the CLI starts, after the built-in commands exist.
    """
