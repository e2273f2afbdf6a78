"""Helpers shared by the built-in evaluators (torch-free)."""

from __future__ import annotations

from workbench.options import ConfigError

DEFAULT_KS = (5, 10, 20)


def default_ks() -> list[int]:
    return list(DEFAULT_KS)


def check_ks(ks: list[int], where: str = "ks") -> list[int]:
    """Validate a list of cut-offs: non-empty, every K >= 1; returns it sorted without duplicates."""
    if not ks:
        raise ConfigError(f"{where}: give at least one cut-off K")
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigError(f"{where}: every cut-off K must be an integer >= 1, got {k!r}")
    return sorted(set(ks))


def check_choices(values: list[str], allowed: tuple[str, ...], where: str) -> list[str]:
    if not values:
        raise ConfigError(f"{where}: choose at least one of {list(allowed)}")
    for v in values:
        if v not in allowed:
            raise ConfigError(f"{where}: {v!r} is not one of {list(allowed)}")
    return list(dict.fromkeys(values))


def metric_name(base: str, k: int, sampled: bool) -> str:
    """``NDCG@10``, or ``sampled_NDCG@10`` for rankings against sampled negatives."""
    return f"{'sampled_' if sampled else ''}{base}@{k}"
