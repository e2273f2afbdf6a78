"""Plugin options: declared as dataclasses, every bad value reported with its full key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pytest

from workbench.options import ConfigError, describe, option, parse_options
from workbench.plugins import Registry


@dataclass
class DemoOptions:
    blocks: int = option(2, help="Transformer blocks", min=1, max=8)
    dropout: float = option(0.2, help="dropout rate", min=0.0, max=1.0)
    norm: str = option("pre", help="LayerNorm placement", choices=["pre", "post"])
    causal: bool = option(True, help="mask the future")
    ks: list[int] = option(default_factory=lambda: [10, 20], help="cut-offs", min=1)
    metrics: list[str] = option(default_factory=lambda: ["NDCG"], help="which", choices=["NDCG", "HR"])
    window: int | None = option(None, help="days, or none", min=1)
    legacy: Optional[float] = option(None, help="old-style optional")
    extra: dict = option(default_factory=dict, help="free-form table")


@dataclass
class NeedsPath:
    path: str = option(help="required file")
    lr: float = option(1e-3, help="learning rate")

    def __post_init__(self):
        if self.lr > 1:
            raise ConfigError(f"lr: a learning rate of {self.lr} will diverge")
        if self.path.endswith("/"):
            raise ValueError("path must name a file, not a folder")


def parse(values, cls=DemoOptions):
    return parse_options(cls, values, "views.demo")


def test_defaults_and_valid_values():
    o = parse({})
    assert (o.blocks, o.dropout, o.norm, o.causal, o.ks, o.window) == (2, 0.2, "pre", True, [10, 20], None)
    o = parse({"blocks": 8, "dropout": 1, "norm": "post", "causal": False, "ks": [1, 5],
               "metrics": ["HR", "NDCG"], "window": 7, "legacy": 3, "extra": {"a": 1}})
    assert o.dropout == 1.0 and isinstance(o.dropout, float)  # ints are accepted for floats
    assert o.legacy == 3.0 and o.window == 7 and o.extra == {"a": 1}
    assert parse({"blocks": 1, "dropout": 0.0}).blocks == 1  # bounds are inclusive


def test_default_factories_are_not_shared():
    a, b = parse({}), parse({})
    a.ks.append(99)
    assert b.ks == [10, 20]


@pytest.mark.parametrize("values, message", [
    ({"blokcs": 3}, "views.demo.blokcs: unknown option (known: blocks, causal, dropout,"),
    ({"blocks": "3"}, "views.demo.blocks: expected an integer, got '3'"),
    ({"blocks": True}, "views.demo.blocks: expected an integer, got True"),
    ({"blocks": 2.5}, "views.demo.blocks: expected an integer"),
    ({"blocks": 0}, "views.demo.blocks: 0 is below the minimum 1"),
    ({"blocks": 9}, "views.demo.blocks: 9 is above the maximum 8"),
    ({"dropout": "high"}, "views.demo.dropout: expected a number"),
    ({"dropout": 1.5}, "views.demo.dropout: 1.5 is above the maximum 1.0"),
    ({"norm": "mid"}, "views.demo.norm: 'mid' is not one of ['pre', 'post']"),
    ({"causal": "yes"}, "views.demo.causal: expected true or false"),
    ({"causal": 1}, "views.demo.causal: expected true or false"),
    ({"ks": 10}, "views.demo.ks: expected a list"),
    ({"ks": [5, "x"]}, "views.demo.ks[1]: expected an integer, got 'x'"),
    ({"ks": [5, 0]}, "views.demo.ks[1]: 0 is below the minimum 1"),
    ({"metrics": ["NDCG", "MAP"]}, "views.demo.metrics[1]: 'MAP' is not one of ['NDCG', 'HR']"),
    ({"window": "week"}, "views.demo.window: 'week' does not match int?"),
    ({"window": 0}, "views.demo.window: 0 is below the minimum 1"),
    ({"legacy": "x"}, "views.demo.legacy: 'x' does not match float?"),
    ({"extra": [1]}, "views.demo.extra: expected a table"),
])
def test_bad_values_name_the_full_key(values, message):
    with pytest.raises(ConfigError) as e:
        parse(values)
    assert str(e.value).startswith(message)


def test_required_options_and_post_init_checks_name_the_key():
    with pytest.raises(ConfigError, match=r"^views\.demo\.path: required option is missing$"):
        parse({}, NeedsPath)
    with pytest.raises(ConfigError, match=r"^views\.demo\.lr: a learning rate of 5\.0 will diverge$"):
        parse({"path": "x.txt", "lr": 5}, NeedsPath)
    with pytest.raises(ConfigError, match=r"^views\.demo: path must name a file, not a folder$"):
        parse({"path": "data/"}, NeedsPath)
    assert parse({"path": "x.txt"}, NeedsPath).lr == 1e-3


def test_plugin_without_options():
    assert parse_options(None, {}, "heads.popularity") is None
    with pytest.raises(ConfigError, match=r"^heads\.popularity: takes no options, got dim, lr$"):
        parse_options(None, {"lr": 1, "dim": 2}, "heads.popularity")


def test_describe_lists_every_option_as_plain_data():
    rows = {r["name"]: r for r in describe(DemoOptions)}
    assert list(rows) == ["blocks", "dropout", "norm", "causal", "ks", "metrics", "window", "legacy", "extra"]
    assert rows["blocks"] == {"name": "blocks", "type": "int", "default": 2, "required": False,
                              "help": "Transformer blocks", "min": 1, "max": 8}
    assert rows["norm"]["choices"] == ["pre", "post"]
    assert rows["ks"]["type"] == "list[int]" and rows["ks"]["default"] == [10, 20]
    assert rows["window"]["type"] == "int?" and rows["legacy"]["type"] == "float?"
    assert describe(NeedsPath)[0]["required"] is True
    assert describe(None) == []


def test_every_builtin_plugin_declares_documented_options_whose_defaults_parse():
    """What the TUI's forms and `plugins info` rely on, for every built-in plugin."""
    registry = Registry()
    registry.load_entry_points()
    builtin = {p.name for p in registry.plugins if p.builtin}
    checked = 0
    for kind, specs in registry.specs.items():
        for name, spec in specs.items():
            if registry.owner[(kind, name)] not in builtin:
                continue
            where = f"{kind}s.{name}"
            for row in describe(spec.options):
                assert row["help"], f"{where}.{row['name']} has no help text"
            if not any(r["required"] for r in describe(spec.options)):
                parse_options(spec.options, {}, where)  # defaults must be valid
            checked += 1
    assert checked > 0


def test_unresolvable_annotations_do_not_break_listing_or_validation():
    namespace = {}
    exec(
        "from __future__ import annotations\n"
        "from dataclasses import dataclass\n"
        "from typing import TYPE_CHECKING\n"
        "from workbench.options import option\n"
        "if TYPE_CHECKING:\n"
        "    from somewhere import Fancy\n"
        "@dataclass\n"
        "class Opts:\n"
        "    n: int = option(3, help='count', min=1)\n"
        "    fancy: Fancy | None = option(None, help='only for type checkers')\n",
        namespace)
    opts_cls = namespace["Opts"]
    rows = {r["name"]: r for r in describe(opts_cls)}
    assert rows["n"]["type"] == "int" and rows["fancy"]["default"] is None
    assert parse_options(opts_cls, {"n": 5}, "x").n == 5
    with pytest.raises(ConfigError, match=r"^x\.n: expected an integer"):
        parse_options(opts_cls, {"n": "5"}, "x")
