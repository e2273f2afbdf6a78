"""Search spaces: ``KEY=DIST(args)`` over dotted experiment keys, from ``--set`` or a SPACE.toml.

Distributions (arguments are TOML literals: numbers, quoted strings, true/false):

- ``loguniform(a, b)``: float, log-uniform on [a, b] (0 < a < b)
- ``uniform(a, b)``: float, uniform on [a, b] (a < b)
- ``int(a, b)``: integer, uniform on a..b inclusive (a <= b); ``int(a, b, log)`` log-uniform
- ``choice(x, y, ...)``: one of the listed values

Keys are dotted paths into the experiment TOML: ``trainer.lr``, ``model.dim``,
``views[0].dropout`` (or ``views.0.dropout``), ``head.temperature``. A SPACE.toml holds::

    [space]
    "trainer.lr" = "loguniform(1e-4, 1e-2)"
    "model.dim" = "choice(32, 64, 128)"

    [tune]            # optional defaults, overridden by the command line
    trials = 20
    pruner = "median" # median | hyperband | none
    prune_after = 2   # the first epoch at which a trial may be pruned

Torch- and Optuna-free: parsing happens before anything is imported or stored.
"""

from __future__ import annotations

import copy
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.coerce import literal
from workbench.options import ConfigError

DISTRIBUTIONS = ("loguniform", "uniform", "int", "choice")
SPEC_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_\[\].-]*)\s*=\s*(.+?)\s*$", re.S)
DIST_RE = re.compile(r"^\s*([A-Za-z_]+)\s*\((.*)\)\s*$", re.S)
KEY_PART_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)((?:\[\d+\])*)$")
TUNE_KEYS = ("trials", "pruner", "prune_after")


@dataclass(frozen=True)
class Param:
    """One searched key: ``kind`` in DISTRIBUTIONS, ``args`` the parsed arguments."""

    key: str
    kind: str
    args: tuple
    log: bool = False

    def describe(self) -> str:
        return f"{self.kind}({', '.join(map(repr, self.args))}{', log' if self.log and self.kind == 'int' else ''})"

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "kind": self.kind, "args": list(self.args), "log": self.log}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Param:
        return Param(d["key"], d["kind"], tuple(d["args"]), bool(d.get("log", False)))


def _split_args(text: str) -> list[str]:
    """Split on commas outside quotes."""
    parts, depth, current, quote = [], 0, [], None
    for ch in text:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
            current.append(ch)
        elif ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            depth += ch in "[("
            depth -= ch in "])"
            current.append(ch)
    if "".join(current).strip() or parts:
        parts.append("".join(current))
    return parts


def check_key(key: str, where: str) -> list[str | int]:
    """``views[0].dropout`` -> ["views", 0, "dropout"]; ConfigError for a malformed key."""
    path: list[str | int] = []
    for part in key.split("."):
        if part.isdigit() and path:
            path.append(int(part))
            continue
        m = KEY_PART_RE.match(part)
        if not m:
            raise ConfigError(f"{where}: {key!r} is not a dotted experiment key (e.g. trainer.lr, views[0].dropout)")
        path.append(m.group(1))
        path.extend(int(i) for i in re.findall(r"\[(\d+)\]", m.group(2)))
    return path


def parse_distribution(key: str, text: str, where: str) -> Param:
    """``loguniform(1e-4, 1e-2)`` for ``key`` -> Param; ConfigError naming ``where`` on any problem."""
    check_key(key, where)
    m = DIST_RE.match(text)
    if not m:
        raise ConfigError(f"{where}: {text!r} is not a distribution; use one of "
                          "loguniform(a,b), uniform(a,b), int(a,b), choice(x,y,...)")
    kind = m.group(1).lower()
    if kind not in DISTRIBUTIONS:
        raise ConfigError(f"{where}: unknown distribution {m.group(1)!r} (use {', '.join(DISTRIBUTIONS)})")
    raw_args = [a.strip() for a in _split_args(m.group(2))]
    if kind == "choice":
        if not raw_args or any(not a for a in raw_args):
            raise ConfigError(f"{where}: choice(...) needs at least one value")
        values = tuple(literal(a, where) for a in raw_args)
        if len(set(map(repr, values))) != len(values):
            raise ConfigError(f"{where}: choice(...) lists a value twice")
        return Param(key, kind, values)
    log = False
    if kind == "int" and len(raw_args) == 3 and raw_args[2] == "log":
        log = True
        raw_args = raw_args[:2]
    if len(raw_args) != 2:
        raise ConfigError(f"{where}: {kind}(...) needs exactly two bounds (low, high), got {len(raw_args)}")
    low, high = (literal(a, where) for a in raw_args)
    for v in (low, high):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(f"{where}: {kind} bounds must be numbers, got {v!r}")
    if kind == "int":
        if not (isinstance(low, int) and isinstance(high, int)):
            raise ConfigError(f"{where}: int(...) bounds must be integers, got {low!r}, {high!r}")
        if low > high:
            raise ConfigError(f"{where}: int({low}, {high}): low must be <= high")
        if log and low < 1:
            raise ConfigError(f"{where}: int(..., log) needs low >= 1")
        return Param(key, kind, (low, high), log)
    low, high = float(low), float(high)
    if not low < high:
        raise ConfigError(f"{where}: {kind}({low:g}, {high:g}): low must be < high")
    if kind == "loguniform" and low <= 0:
        raise ConfigError(f"{where}: loguniform needs low > 0, got {low:g}")
    return Param(key, kind, (low, high))


def parse_set(spec: str) -> Param:
    """One ``--set KEY=DIST(args)``."""
    where = f"--set {spec!r}"
    m = SPEC_RE.match(spec)
    if not m:
        raise ConfigError(f"{where}: expected KEY=DIST(args), e.g. trainer.lr=loguniform(1e-4,1e-2)")
    return parse_distribution(m.group(1), m.group(2), where)


def load_space_file(path: str | Path) -> tuple[list[Param], dict[str, Any]]:
    """SPACE.toml -> (params, tune defaults). ConfigError names the file and the key."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such search-space file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    unknown = sorted(set(raw) - {"space", "tune"})
    if unknown:
        raise ConfigError(f"{path}: {unknown[0]}: unknown table (use [space] and optionally [tune])")
    space = raw.get("space")
    if not isinstance(space, dict) or not space:
        raise ConfigError(f"{path}: [space] is missing or empty (\"trainer.lr\" = \"loguniform(1e-4, 1e-2)\")")
    params = []
    for key, text in space.items():
        where = f"{path}: space.{key!r}" if "." in key else f"{path}: space.{key}"
        if isinstance(text, dict):
            raise ConfigError(f"{where}: write dotted keys quoted (\"trainer.lr\" = \"...\"), not as nested tables")
        if not isinstance(text, str):
            raise ConfigError(f"{where}: expected a distribution string such as \"uniform(0.1, 0.5)\", got {text!r}")
        params.append(parse_distribution(key, text, where))
    tune = raw.get("tune", {})
    if not isinstance(tune, dict):
        raise ConfigError(f"{path}: tune: expected a table")
    bad = sorted(set(tune) - set(TUNE_KEYS))
    if bad:
        raise ConfigError(f"{path}: tune.{bad[0]}: unknown key (known: {', '.join(TUNE_KEYS)})")
    return params, tune


def merge_space(file_params: list[Param], set_params: list[Param]) -> list[Param]:
    """--set entries override a SPACE.toml entry for the same key; order: file first, then new keys."""
    by_key = {p.key: p for p in file_params}
    for p in set_params:
        by_key[p.key] = p
    return list(by_key.values())


def set_key(config: dict, key: str, value: Any) -> dict:
    """A copy of ``config`` with the dotted ``key`` set to ``value`` (tables created as needed;
    list indices must exist). ConfigError names the key when the path does not fit the config."""
    out = copy.deepcopy(config)
    path = check_key(key, key)
    node: Any = out
    for i, part in enumerate(path[:-1]):
        nxt = path[i + 1]
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                raise ConfigError(f"{key}: the experiment has no entry {part} there")
            node = node[part]
            continue
        if not isinstance(node, dict):
            raise ConfigError(f"{key}: {part!r} is not inside a table")
        if part not in node:
            if isinstance(nxt, int):
                raise ConfigError(f"{key}: the experiment has no {part!r} list")
            node[part] = {}
        node = node[part]
    last = path[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or last >= len(node):
            raise ConfigError(f"{key}: the experiment has no entry {last} there")
    elif not isinstance(node, dict):
        raise ConfigError(f"{key}: {last!r} is not inside a table")
    node[last] = value
    return out


def corner_values(param: Param) -> list[Any]:
    """The extreme values of a parameter (for validating the space before any trial runs)."""
    if param.kind == "choice":
        return list(param.args)
    return [param.args[0], param.args[1]]
