"""Experiment configs for the composer: defaults, plugin-option validation, TOML export.

The config is the dict a TOML experiment file parses to::

    name, dataset, split (a kind, or a table with the split's options)
    [init_from] run, items, unmatched, ...   (optional warm start)
    [model] dim, max_len
    [[views]] type = "...", <view options>
    [fusion] type = "...", <options>      [head] type = "...", <options>
    [[evaluators]] type = "...", <options>
    [trainer] <trainer options>

Torch-free. :func:`validate` runs the engine's own ``parse_config`` (what a launch
checks: every plugin's options, the trainer, the model) on the event loop, so
errors show up before launch, naming the key.
"""

from __future__ import annotations

import json
from typing import Any

from workbench.options import ConfigError

PLUGIN_SECTIONS = (("views", "view", True), ("fusion", "fusion", False), ("head", "head", False),
                   ("evaluators", "evaluator", True))


def trainer_options_cls() -> type:
    """The engine's trainer options dataclass (torch-free)."""
    from workbench.engine.config import TrainerOptions

    return TrainerOptions


def split_described() -> list[dict[str, Any]]:
    """The split's declared options other than ``kind`` (the composer's split select)."""
    from workbench.engine.config import SplitOptions
    from workbench.options import describe

    return [d for d in describe(SplitOptions) if d["name"] != "kind"]


def init_from_described() -> list[dict[str, Any]]:
    """``init_from``'s declared options other than the run (picked from a list) and another workspace's
    path (kept as the experiment had it)."""
    from workbench.engine.config import InitFromOptions
    from workbench.options import describe

    return [d for d in describe(InitFromOptions) if d["name"] not in ("run", "workspace")]


def init_from_table(value: Any) -> dict[str, Any]:
    """``init_from`` as a table: ``12`` -> ``{"run": 12}``; absent -> ``{}``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return {"run": value}
    return dict(value) if isinstance(value, dict) else {}


def registry():
    from workbench.plugins import get_registry

    return get_registry()


def section_entries(config: dict[str, Any], section: str) -> list[dict[str, Any]]:
    value = config.get(section)
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def split_entry(entry: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(type, options) of a ``{type=..., **options}`` table."""
    opts = {k: v for k, v in entry.items() if k != "type"}
    return entry.get("type", ""), opts


def validate(config: dict[str, Any], *, dataset_names: list[str] | None = None) -> None:
    """Raise ConfigError naming the key of the first problem the composer can detect."""
    if not config.get("name"):
        raise ConfigError("name: give the experiment a name")
    if dataset_names is not None and config.get("dataset") not in dataset_names:
        raise ConfigError(f"dataset: {config.get('dataset')!r} is not in this workspace "
                          f"(datasets: {', '.join(dataset_names) or 'none; import one first'})")
    from workbench.engine.config import parse_config

    parse_config(config)   # the engine's own validation: exactly what launch will check


# ------------------------------------------------------------------ TOML
def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise ConfigError(f"cannot write {v!r} to TOML")


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else json.dumps(k)


def to_toml(config: dict[str, Any]) -> str:
    """The experiment as TOML text (``tomllib.loads(to_toml(c)) == c`` for None-free configs)."""
    lines: list[str] = []
    tables, arrays = [], []
    for k, v in config.items():
        if v is None:
            continue
        if isinstance(v, dict):
            tables.append((k, v))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            arrays.append((k, v))
        else:
            lines.append(f"{_key(k)} = {_toml_value(v)}")
    for k, table in tables:
        lines += ["", f"[{_key(k)}]"] + [f"{_key(kk)} = {_toml_value(vv)}" for kk, vv in table.items() if vv is not None]
    for k, items in arrays:
        for table in items:
            lines += ["", f"[[{_key(k)}]]"] + [f"{_key(kk)} = {_toml_value(vv)}" for kk, vv in table.items()
                                              if vv is not None]
    return "\n".join(lines) + "\n"
