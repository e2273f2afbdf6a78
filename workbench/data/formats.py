"""Finding the reader for a path: by name, or ``auto`` detection over every installed reader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.coerce import strings_to_options
from workbench.kinds import ReaderError
from workbench.options import ConfigError, parse_options

AMBIGUITY_MARGIN = 0.05


def reader_specs() -> dict:
    from workbench.plugins import get_registry

    return get_registry().specs["reader"]


def detect_format(path: Path) -> str:
    """The name of the reader most confident about ``path``; ReaderError when none or several tie."""
    path = Path(path)
    if not path.exists():
        raise ReaderError(path, None, None, "no such file or folder")
    specs = reader_specs()
    scores: dict[str, float] = {}
    for name, spec in specs.items():
        try:
            scores[name] = float(spec.load()().detect(path))
        except Exception:  # noqa: BLE001 - a broken reader's detect must not break detection
            scores[name] = 0.0
    known = ", ".join(sorted(specs)) or "none installed"
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    if not ranked or ranked[0][1] <= 0:
        raise ReaderError(path, None, None, f"cannot tell the format; pass --format (formats: {known})")
    best, score = ranked[0]
    ties = [n for n, s in ranked[1:] if s > 0 and score - s < AMBIGUITY_MARGIN]
    if ties:
        raise ReaderError(path, None, None, f"ambiguous format: {', '.join([best] + ties)} all match; "
                                            f"pass --format (formats: {known})")
    return best


def make_reader(fmt: str, options: dict[str, Any] | None = None):
    """Instantiate reader ``fmt`` with validated options (ConfigError names ``reader.<fmt>.<key>``)."""
    specs = reader_specs()
    if fmt not in specs:
        raise ConfigError(f"unknown format {fmt!r} (formats: {', '.join(sorted(specs)) or 'none installed'})")
    spec = specs[fmt]
    where = f"reader.{fmt}"
    opts = parse_options(spec.options, strings_to_options(spec.options, options or {}, where), where)
    return spec.load()(opts), opts
