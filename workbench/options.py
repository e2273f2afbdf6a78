"""Plugin options: declared as dataclasses, validated with messages naming the key.

A plugin declares its settings as a dataclass. Each field may carry metadata:

- ``help``: one line shown in ``--help``-like listings and TUI forms;
- ``choices``: the allowed values;
- ``min`` / ``max``: numeric bounds (inclusive).

Use :func:`option` as a shorthand::

    @dataclass
    class SASRecOptions:
        blocks: int = option(2, help="Transformer blocks", min=1)
        norm: str = option("pre", help="LayerNorm placement", choices=["pre", "post"])

:func:`parse_options` takes typed values (a TOML file's, or Python's). Text a person typed (a
command-line ``key=value``, a form field) is turned into the declared type first by
:mod:`workbench.coerce`, the one place that parses option text.
"""

from __future__ import annotations

import dataclasses
import types
import math
import typing
from dataclasses import MISSING, field
from typing import Any


class ConfigError(ValueError):
    """A bad configuration value; the message names the full key (``views.sasrec.blocks``)."""


def option(default: Any = MISSING, *, help: str = "", choices: list | None = None,
           min: float | None = None, max: float | None = None, default_factory: Any = MISSING):
    meta = {"help": help}
    if choices is not None:
        meta["choices"] = list(choices)
    if min is not None:
        meta["min"] = min
    if max is not None:
        meta["max"] = max
    if default_factory is not MISSING:
        return field(default_factory=default_factory, metadata=meta)
    return field(default=default, metadata=meta)


def describe(options_cls: type | None) -> list[dict[str, Any]]:
    """The declared options as plain data: name, type, default, help, choices, min, max."""
    if options_cls is None:
        return []
    hints = _hints(options_cls)
    out = []
    for f in dataclasses.fields(options_cls):
        if f.default is not MISSING:
            default = f.default
        elif f.default_factory is not MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        else:
            default = None
        out.append({
            "name": f.name,
            "type": _type_name(hints.get(f.name, Any)),
            "default": default,
            "required": f.default is MISSING and f.default_factory is MISSING,  # type: ignore[misc]
            **{k: v for k, v in f.metadata.items()},
        })
    return out


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (list, tuple):
        args = typing.get_args(tp)
        return f"list[{_type_name(args[0])}]" if args else "list"
    if _is_union(origin):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _type_name(args[0]) + "?" if len(args) == 1 else "|".join(_type_name(a) for a in args)
    return getattr(tp, "__name__", str(tp))


def parse_options(options_cls: type | None, values: dict[str, Any] | None, where: str) -> Any:
    """Build ``options_cls`` from a mapping, or raise :class:`ConfigError` naming ``where.key``.

    Unknown keys, wrong types, values outside ``choices`` or ``min``/``max``,
    and missing required keys are all errors. ints are accepted for float fields.
    """
    values = dict(values or {})
    if options_cls is None:
        if values:
            raise ConfigError(f"{where}: takes no options, got {', '.join(sorted(values))}")
        return None
    hints = _hints(options_cls)
    fields = {f.name: f for f in dataclasses.fields(options_cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown option (known: {', '.join(sorted(fields))})")
    kwargs = {}
    for name, f in fields.items():
        key = f"{where}.{name}"
        if name not in values:
            if f.default is MISSING and f.default_factory is MISSING:  # type: ignore[misc]
                raise ConfigError(f"{key}: required option is missing")
            continue
        value = _coerce(values[name], hints.get(name, Any), key)
        if isinstance(value, list):  # choices / min / max apply to each element of a list option
            for i, v in enumerate(value):
                _check_bounds(v, f.metadata, f"{key}[{i}]")
        else:
            _check_bounds(value, f.metadata, key)
        kwargs[name] = value
    try:
        return options_cls(**kwargs)
    except ConfigError as e:  # raised by the options' own __post_init__ checks
        msg = str(e)
        head = msg.split(":", 1)[0].split("[", 1)[0].split(".", 1)[0]
        raise ConfigError(f"{where}.{msg}" if head in fields else f"{where}: {msg}") from None
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {e}") from None


def _hints(options_cls: type) -> dict[str, Any]:
    """Field types; a field whose annotation cannot be resolved (a name only imported under
    ``TYPE_CHECKING``) is treated as ``Any`` instead of breaking listings and validation."""
    try:
        return typing.get_type_hints(options_cls)
    except Exception:  # noqa: BLE001 - resolve field by field
        out = {}
        module = vars(__import__("sys").modules.get(options_cls.__module__, typing))
        for f in dataclasses.fields(options_cls):
            try:
                out[f.name] = eval(f.type, module) if isinstance(f.type, str) else f.type  # noqa: S307
            except Exception:  # noqa: BLE001
                out[f.name] = Any
        return out


def _is_union(origin: Any) -> bool:
    return origin is typing.Union or origin is types.UnionType


def _check_bounds(value: Any, meta: Any, key: str) -> None:
    if value is None:
        return
    if "choices" in meta and value not in meta["choices"]:
        raise ConfigError(f"{key}: {value!r} is not one of {meta['choices']}")
    if "min" in meta and value < meta["min"]:
        raise ConfigError(f"{key}: {value!r} is below the minimum {meta['min']}")
    if "max" in meta and value > meta["max"]:
        raise ConfigError(f"{key}: {value!r} is above the maximum {meta['max']}")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if _is_union(origin):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: {value!r} does not match {_type_name(tp)}")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {type(value).__name__} {value!r}")
        (arg,) = typing.get_args(tp)[:1] or (Any,)
        return [_coerce(v, arg, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table, got {type(value).__name__} {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):   # NaN passes every min/max comparison: refuse it here
                raise ConfigError(f"{key}: expected a finite number, got {value!r}")
            return float(value)
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    return value
