"""Options of the ``longtail`` evaluator (declared and validated by the plugin itself)."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.options import ConfigError, option


@dataclass
class LongTailOptions:
    ks: list[int] = option(default_factory=lambda: [10, 20], help="cut-offs K of the top-K lists", min=1)
    head_fraction: float = option(0.2, help="share of the catalogue, most popular first, that is the short head",
                                  min=0.0, max=1.0)

    def __post_init__(self):
        if not self.ks:
            raise ConfigError("ks: give at least one cut-off K")
        if not 0.0 < self.head_fraction < 1.0:
            raise ConfigError(f"head_fraction: must be strictly between 0 and 1, got {self.head_fraction}")
        self.ks = sorted(set(self.ks))
