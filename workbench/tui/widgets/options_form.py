"""A form generated from a plugin's declared options (``workbench.options.describe``).

Each option becomes one row: a checkbox for bools, a select for choices, an
input otherwise, with the option's help underneath. :meth:`OptionsForm.values`
returns only the options the user changed from their defaults, typed as
declared; validation itself is ``parse_options`` (the same as for TOML files),
so the form and the CLI reject exactly the same things.
"""

from __future__ import annotations

import json
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Checkbox, Input, Label, Select

from workbench.coerce import from_text


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


class OptionsForm(Vertical):
    DEFAULT_CSS = """
    OptionsForm { height: auto; padding: 0 0 0 2; }
    OptionsForm .opt-row { height: auto; }
    OptionsForm .opt-name { width: 22; }
    OptionsForm Input { width: 1fr; }
    OptionsForm Select { width: 1fr; }
    OptionsForm .opt-help { color: $text-muted; padding-left: 22; height: auto; }
    """

    def __init__(self, where: str, described: list[dict[str, Any]], values: dict[str, Any] | None = None,
                 *, id: str | None = None):
        super().__init__(id=id)
        self.where = where
        self.described = described
        self.initial = dict(values or {})

    def compose(self) -> ComposeResult:
        if not self.described:
            yield Label("(no options)", classes="opt-help")
        for d in self.described:
            name = d["name"]
            value = self.initial.get(name, d["default"])
            wid = self._wid(name)
            with Horizontal(classes="opt-row"):
                yield Label(name, classes="opt-name")
                if d["type"] == "bool":
                    yield Checkbox("", bool(value), id=wid, compact=True)
                elif d.get("choices"):
                    yield Select([(str(c), c) for c in d["choices"]], value=value if value in d["choices"]
                                 else Select.NULL, allow_blank=value not in d["choices"], id=wid, compact=True)
                else:
                    yield Input(_text(value), placeholder=d["type"], id=wid, compact=True)
            bounds = []
            if "min" in d:
                bounds.append(f">= {d['min']}")
            if "max" in d:
                bounds.append(f"<= {d['max']}")
            help_text = d.get("help", "") + (f" ({', '.join(bounds)})" if bounds else "")
            if help_text:
                yield Label(help_text, classes="opt-help")

    def _wid(self, name: str) -> str:
        return f"opt-{self.where.replace('.', '-')}-{name}"

    def values(self, *, only_changed: bool = True) -> dict[str, Any]:
        """The entered values, typed; raises ConfigError naming ``where.key`` for unparsable text."""
        out: dict[str, Any] = {}
        for d in self.described:
            name = d["name"]
            widget = self.query_one(f"#{self._wid(name)}")
            key = f"{self.where}.{name}"
            if isinstance(widget, Checkbox):
                value = widget.value
            elif isinstance(widget, Select):
                # NULL until mounted, or a blank choice: the value it was built with
                value = self.initial.get(name, d["default"]) if widget.value is Select.NULL else widget.value
            else:
                value = from_text(widget.value.strip(), d["type"], key)
            if not only_changed or value != d["default"] or name in self.initial:
                out[name] = value
        return out
