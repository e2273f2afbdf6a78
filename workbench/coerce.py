"""Text a person typed to an option's value: the one place strings become typed option values.

Used by the command line (``workbench data import -o key=value``), the app's option forms and
model fields, and the search spaces of ``workbench tune``. Validation proper (bounds, choices of
list elements, unknown keys) stays with :func:`workbench.options.parse_options`; this module only
turns text into the declared type, or raises :class:`~workbench.options.ConfigError` naming the key.

Types are named as :func:`workbench.options.describe` names them: ``int``, ``float``, ``bool``,
``str``, ``list[int]``, ``dict``, ``float?`` (optional), ``int|str`` (the first that fits wins).

- ``int``: ``12``; ``float``: ``0.5``, ``1e-3``; ``bool``: true/false, yes/no, 1/0 (any case);
- ``str``: the text as typed; with ``choices``, one of them;
- ``list[T]``: ``1,2,3`` (each element as T) or a JSON array ``[1, 2, 3]``; ``dict``: a JSON object;
- empty text: None for an optional type, ``""`` for a string, otherwise an error.
"""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any, Sequence

from workbench.options import ConfigError, describe

TRUE_WORDS = ("true", "yes", "1")
FALSE_WORDS = ("false", "no", "0")
_BARE_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


class _NoMatch(ValueError):
    """The text does not fit one member of a union (the next one is tried)."""


def from_text(text: str, type_name: str, key: str, *, choices: Sequence | None = None) -> Any:
    """``text`` as a value of the option type ``type_name``; ConfigError naming ``key`` when it is not one."""
    parts = [p.strip() for p in type_name.replace("?", "|None").split("|") if p.strip()] or ["str"]
    optional = "None" in parts
    bases = [p for p in parts if p != "None"] or ["str"]
    if text.strip() == "":
        if optional:
            return None
        if "str" in bases:
            return _check_choice(text, choices, key)
        raise ConfigError(f"{key}: a value is required ({_expected(bases)})")
    errors = []
    for base in bases:
        try:
            value = _one(text, base, key)
        except _NoMatch as e:
            errors.append(str(e))
            continue
        return _check_choice(value, choices, key)
    if len(errors) == 1:
        raise ConfigError(f"{key}: {errors[0]}")
    raise ConfigError(f"{key}: {text.strip()!r} does not match {type_name}")


def strings_to_options(options_cls: type | None, values: dict[str, Any], where: str) -> dict[str, Any]:
    """The string values of ``values`` turned into the types ``options_cls`` declares (other values,
    and keys it does not declare, are left for :func:`~workbench.options.parse_options` to judge);
    errors name ``where.key``."""
    declared = {d["name"]: d for d in describe(options_cls)}
    out = {}
    for key, value in values.items():
        d = declared.get(key)
        if d is not None and isinstance(value, str):
            value = from_text(value, d["type"], f"{where}.{key}", choices=d.get("choices"))
        out[key] = value
    return out


def literal(text: str, key: str) -> Any:
    """An untyped literal (a search-space bound or choice): a TOML number, ``true``/``false`` or quoted
    string, or a bare word as a string; ConfigError naming ``key`` otherwise."""
    text = text.strip()
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        if _BARE_WORD.fullmatch(text):
            return text
        raise ConfigError(f"{key}: {text!r} is not a number, true/false or a quoted string") from None


def _one(text: str, base: str, key: str) -> Any:
    s = text.strip()
    if base == "str":
        return text
    if base == "int":
        try:
            return int(s)
        except ValueError:
            raise _NoMatch(f"expected an integer, got {s!r}") from None
    if base == "float":
        try:
            return float(s)
        except ValueError:
            raise _NoMatch(f"expected a number, got {s!r}") from None
    if base == "bool":
        if s.lower() in TRUE_WORDS:
            return True
        if s.lower() in FALSE_WORDS:
            return False
        raise _NoMatch(f"expected true or false, got {s!r}")
    if base == "list" or base.startswith("list["):
        element = base[5:-1] if base.startswith("list[") else "str"
        if s.startswith("["):
            return _json(s, list, "a JSON array")
        return [from_text(part.strip(), element, f"{key}[{i}]")
                for i, part in enumerate(p for p in s.split(",") if p.strip())]
    if base == "dict":
        return _json(s, dict, "a JSON object")
    return text            # a type without a text form (Any, a class): the text itself


def _json(s: str, kind: type, what: str) -> Any:
    try:
        value = json.loads(s)
    except ValueError:
        raise _NoMatch(f"expected {what}, got {s!r}") from None
    if not isinstance(value, kind):
        raise _NoMatch(f"expected {what}, got {s!r}")
    return value


def _check_choice(value: Any, choices: Sequence | None, key: str) -> Any:
    if choices is None:
        return value
    for i, v in enumerate(value if isinstance(value, list) else [value]):
        if v not in choices:
            where = f"{key}[{i}]" if isinstance(value, list) else key
            raise ConfigError(f"{where}: {v!r} is not one of {list(choices)}")
    return value


def _expected(bases: list[str]) -> str:
    return " or ".join({"int": "an integer", "float": "a number", "bool": "true or false"}.get(b, b) for b in bases)
