"""Torch-free contracts shared by the core and every plugin.

A plugin registers a :class:`PluginSpec`. Readers and evaluators are plain
Python (numpy); views, fusions and heads are torch modules whose base classes
live in :mod:`workbench.model.base` (imported only when a model is built).
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

KINDS = ("view", "fusion", "head", "evaluator", "reader")

#: What an experiment falls back to where it names no plugin. The core names no plugin itself:
#: a plugin claims a role with ``PluginSpec(default_for=(role, ...))``; see
#: :meth:`workbench.plugins.Registry.defaults`.
DEFAULT_ROLES = {   # role: (kind, what it is)
    "fusion.one_view": ("fusion", "the fusion of an experiment with one view and no [fusion] table"),
    "fusion.views": ("fusion", "the fusion of an experiment with several views and no [fusion] table"),
    "evaluators": ("evaluator", "the evaluators of an experiment without [[evaluators]] tables (every claimant)"),
}


@dataclass(frozen=True)
class PluginSpec:
    """What a plugin registers for one thing it provides.

    ``factory`` is a dotted path ``"package.module:Name"`` (imported lazily) or
    the class itself. ``options`` is a dataclass whose fields declare the
    plugin's settings (see :mod:`workbench.options`); ``None`` means no options.
    ``default_for`` names the :data:`DEFAULT_ROLES` this plugin fills when an
    experiment leaves the choice open.
    """

    name: str
    kind: str
    factory: str | Callable[..., Any]
    options: type | None = None
    description: str = ""
    default_for: tuple[str, ...] = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown plugin kind {self.kind!r}; expected one of {KINDS}")
        if isinstance(self.default_for, str) or any(DEFAULT_ROLES.get(r, ("",))[0] != self.kind
                                                     for r in self.default_for):
            roles = [r for r, (k, _) in DEFAULT_ROLES.items() if k == self.kind]
            raise ValueError(f"{self.name}: default_for must be a tuple of {self.kind} roles "
                             f"({', '.join(roles) or 'none exist'}), got {self.default_for!r}")
        if not self.name or not self.name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"bad plugin name {self.name!r}: letters, digits, '-' and '_' only")
        if self.options is not None and not dataclasses.is_dataclass(self.options):
            raise TypeError(f"{self.name}: options must be a dataclass, got {self.options!r}")

    def load(self) -> Any:
        """Import and return the implementation named by ``factory``."""
        if not isinstance(self.factory, str):
            return self.factory
        module_name, _, attr = self.factory.partition(":")
        obj = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj


@dataclass(frozen=True)
class TableSpec:
    """A workspace table a plugin keeps for itself (a cache, say), registered with ``register_tables``.

    ``columns`` is the column list of a ``CREATE TABLE`` statement (column definitions and
    table constraints). Workbench creates the table, if missing, when the plugin first asks
    for it with :func:`workbench.store.plugin_tables.plugin_table`; the core schema
    (workbench/store/migrations.py) never names a plugin's table.
    """

    name: str
    columns: str
    description: str = ""

    def __post_init__(self):
        if not self.name.replace("_", "").isalnum() or not self.name[0].isalpha():
            raise ValueError(f"bad table name {self.name!r}: a letter, then letters, digits and '_'")
        if not self.columns.strip():
            raise ValueError(f"table {self.name}: no columns")


# ---------------------------------------------------------------- readers
MAX_SHOWN_VALUE = 60        # characters of an offending value quoted in a message
MAX_MESSAGE = 400           # characters of one reader message (a 5 MB field never becomes a 5 MB message)
MAX_ERRORS = 50             # bad lines kept in ReaderError.errors


def shown(value: Any) -> str:
    """``repr(value)`` cut to :data:`MAX_SHOWN_VALUE` characters, saying how long it was."""
    text = repr(value)
    if len(text) <= MAX_SHOWN_VALUE:
        return text
    return f"{text[:MAX_SHOWN_VALUE]}... ({len(str(value)):,} characters)"


class ReaderError(ValueError):
    """Bad input in a dataset file. Always names the file, the line (1-based) and the field.

    ``errors``: every bad line found (the first :data:`MAX_ERRORS`), each a ReaderError with its
    own file, line and field; ``total_errors`` counts them all. A reader that stops at the first
    problem leaves ``errors == [self]``. The message of the error itself is the first problem
    (plus "and N more bad lines"), so one line still says where to look.
    """

    def __init__(self, file: str | Path, line: int | None, field: str | None, message: str):
        self.file, self.line, self.field = str(file), line, field
        self.message = message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE] + "... (cut)"
        self.errors: list[ReaderError] = [self]
        self.total_errors = 1
        super().__init__(self._where() + ": " + self.message)

    def _where(self) -> str:
        where = self.file
        if self.line is not None:
            where += f", line {self.line}"
        if self.field:
            where += f", field {self.field!r}"
        return where

    @classmethod
    def collected(cls, errors: list["ReaderError"], total: int) -> "ReaderError":
        """One error carrying ``errors`` (the first ones found) out of ``total`` bad lines."""
        first = errors[0]
        more = total - 1
        err = cls(first.file, first.line, first.field,
                  first.message + (f" (and {more:,} more bad line{'s' if more > 1 else ''})" if more else ""))
        err.errors, err.total_errors = list(errors[:MAX_ERRORS]), total
        return err

    def lines(self) -> list[str]:
        """One line per collected error, for a CLI or a scrollable panel."""
        out = [f"{e._where()}: {e.message}" for e in self.errors]
        if self.total_errors > len(self.errors):
            out.append(f"... {self.total_errors - len(self.errors):,} more bad lines not shown")
        return out


class CodedColumn:
    """A column of raw string ids stored as codes into ``uniques`` (first-seen order).

    What a streaming reader returns instead of one Python string per row: memory is one
    int64 per row plus the distinct values. It reads like a list of strings (``len``,
    indexing, iteration, ``==`` with a list).
    """

    def __init__(self, codes, uniques: list[str]):
        self.codes, self.uniques = codes, uniques

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self.uniques[c] for c in self.codes[k].tolist()]
        return self.uniques[int(self.codes[k])]

    def __iter__(self):
        u = self.uniques
        return (u[c] for c in self.codes.tolist())

    def __eq__(self, other) -> bool:
        return list(self) == list(other)

    __hash__ = None


@dataclass
class SourceFile:
    path: str
    sha256: str
    size: int


@dataclass
class RawDataset:
    """What a reader returns: raw interactions and side information.

    Interaction columns are parallel lists in file order (or, from a streaming reader,
    :class:`CodedColumn` ids and float64 arrays). ``timestamps`` is
    ``None`` when the format has no time (order only); then the file order within
    a user is the chronological order. Ids are raw strings as they appear in the
    files; the importer remaps them to contiguous integers (0 reserved for padding).
    """

    users: list[str] | CodedColumn
    items: list[str] | CodedColumn
    timestamps: Any = None       # list[float] or a float64 array, or None
    actions: list[str] | CodedColumn | None = None
    values: Any = None           # list[float] or a float64 array, or None
    item_info: dict[str, dict[str, Any]] = field(default_factory=dict)
    """raw item id -> {"title": str, "text": str, "categories": list[str], "extra": dict}"""
    user_info: dict[str, dict[str, Any]] = field(default_factory=dict)
    """raw user id -> attribute dict (categorical or numeric values)"""
    source_files: list[SourceFile] = field(default_factory=list)


class DatasetReader:
    """Base class of dataset readers.

    ``detect(path)`` returns a confidence in [0, 1] that this reader understands
    ``path`` (a file or a folder); ``read(path, options)`` parses it. Readers must
    raise :class:`ReaderError` (never a bare exception) on malformed input.
    """

    name: str = ""

    def __init__(self, options: Any = None):
        self.options = options

    def detect(self, path: Path) -> float:
        raise NotImplementedError

    def read(self, path: Path) -> RawDataset:
        raise NotImplementedError


# ---------------------------------------------------------------- evaluators
@dataclass
class Rankings:
    """Full-ranking (or sampled) results for U evaluated users, numpy arrays.

    - ``target_rank`` (U,) int: 0-based rank of the held-out item among the
      candidates, ties counted pessimistically (every other candidate with a
      score >= the target's is ranked ahead of it), excluded items not counted.
    - ``topk`` (U, K_max) int: the recommended item ids in order (excluded items never appear;
      0 pads the list when fewer than K_max items were candidates).
    - ``targets`` (U,) int: the held-out item ids.
    - ``num_candidates`` (U,) int: how many items were ranked for each user.
    - ``item_popularity`` (N+1,) float: training interaction counts per item id (index 0 is padding).
    - ``history_length`` (U,) int: training history length of each user.
    - ``sampled``: True when candidates were the target plus sampled negatives;
      every metric from such rankings must be labelled as sampled.
    - ``target_actions`` (U,) int or None: action id of each held-out event (0 = none); action id a
      is ``action_names[a - 1]``. None when the driver was given no actions.
    """

    target_rank: Any
    topk: Any
    targets: Any
    num_candidates: Any
    item_popularity: Any
    history_length: Any
    sampled: bool = False
    target_actions: Any = None
    action_names: tuple = ()


class Evaluator:
    """Base class of evaluators: ``evaluate(rankings) -> {metric_name: value}``.

    Metric names carry their cut-off (``"NDCG@10"``). Values are means over the
    evaluated users unless the name says otherwise. The evaluator's options class may define
    ``metric_names() -> list[str]``: every name :meth:`evaluate` can report with these options
    (without the ``sampled_`` label); then an experiment whose ``trainer.monitor`` none of its
    plugins reports is rejected before a run is created (:mod:`workbench.engine.metric_names`).
    """

    name: str = ""

    def __init__(self, options: Any = None):
        self.options = options

    def evaluate(self, rankings: Rankings) -> dict[str, float]:
        raise NotImplementedError

    def per_user(self, rankings: Rankings) -> dict[str, Any]:
        """Optional: ``{metric_name: (U,) array}``, each user's value of the metrics that are means
        over users (NaN where undefined for a user), so that the NaN-ignoring mean equals what
        :meth:`evaluate` reports. Paired significance tests need these; the default offers none
        (aggregate metrics such as coverage have no per-user value)."""
        return {}


def specs_from_package(package: str, kind: str, first: Iterable[str] = ()) -> list[PluginSpec]:
    """Collect ``SPECS`` from every torch-free module of a built-in plugin package.

    Convention for built-ins: ``name.py`` declares the options dataclass and a
    ``SPECS`` list (no torch import); the torch implementation lives in
    ``name_impl.py`` and is named by the spec's ``factory`` path, so it is only
    imported when a model is built. Modules whose names end in ``_impl`` or start
    with ``_`` (shared helpers) are never imported here. Modules are read by name,
    those named in ``first`` before the others (registration order is the order of
    :meth:`workbench.plugins.Registry.defaults`).
    """
    return [s for module in _plugin_modules(package, first) for s in getattr(module, "SPECS", []) if s.kind == kind]


def tables_from_package(package: str) -> list[TableSpec]:
    """Collect ``TABLES`` (workspace tables, see :class:`TableSpec`) from the same modules as
    :func:`specs_from_package`."""
    return [t for module in _plugin_modules(package) for t in getattr(module, "TABLES", [])]


def _plugin_modules(package: str, first: Iterable[str] = ()):
    """The torch-free plugin modules of a built-in package: by name, those in ``first`` first."""
    import pkgutil

    pkg = importlib.import_module(package)
    first = list(first)

    def order(m):
        return (first.index(m.name) if m.name in first else len(first), m.name)

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=order):
        if info.name.endswith("_impl") or info.name.startswith("_") or info.ispkg:
            continue
        yield importlib.import_module(f"{package}.{info.name}")
