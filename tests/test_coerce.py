"""One coercer of typed text to option types (workbench.coerce): per type, the errors name the key,
and every caller (CLI reader options, the app's option forms, tune's search spaces) goes through it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from workbench.coerce import from_text, literal, strings_to_options
from workbench.options import ConfigError, option, parse_options


def test_int():
    assert from_text(" 12 ", "int", "model.dim") == 12
    with pytest.raises(ConfigError, match=r"^model\.dim: expected an integer, got '1\.5'$"):
        from_text("1.5", "int", "model.dim")


def test_float():
    assert from_text("1e-3", "float", "trainer.lr") == pytest.approx(0.001)
    assert from_text("2", "float", "trainer.lr") == 2.0 and isinstance(from_text("2", "float", "k"), float)
    with pytest.raises(ConfigError, match=r"^trainer\.lr: expected a number, got 'fast'$"):
        from_text("fast", "float", "trainer.lr")


@pytest.mark.parametrize("text,value", [("true", True), ("True", True), ("yes", True), ("1", True),
                                        ("false", False), ("NO", False), ("0", False)])
def test_bool(text, value):
    assert from_text(text, "bool", "reader.csv.header") is value


def test_bool_refuses_other_words():
    with pytest.raises(ConfigError, match=r"^reader\.csv\.header: expected true or false, got 'maybe'$"):
        from_text("maybe", "bool", "reader.csv.header")


def test_str_is_kept_as_typed_and_may_be_empty():
    assert from_text(" ", "str", "reader.csv.delimiter") == " "      # a space delimiter is a value
    assert from_text("", "str", "name") == ""
    assert from_text("sasrec", "str", "views.type") == "sasrec"


def test_list_from_commas_or_json_with_typed_elements():
    assert from_text("5, 10,20", "list[int]", "evaluators.ranking.ks") == [5, 10, 20]
    assert from_text("[5, 10]", "list[int]", "evaluators.ranking.ks") == [5, 10]
    assert from_text("HR,NDCG", "list[str]", "evaluators.ranking.metrics") == ["HR", "NDCG"]
    with pytest.raises(ConfigError, match=r"^evaluators\.ranking\.ks\[1\]: expected an integer, got 'x'$"):
        from_text("5,x", "list[int]", "evaluators.ranking.ks")
    with pytest.raises(ConfigError, match=r"^evaluators\.ranking\.ks: expected a JSON array, got '\[5,'$"):
        from_text("[5,", "list[int]", "evaluators.ranking.ks")


def test_dict_is_a_json_object():
    assert from_text('{"purchase": 1.0}', "dict", "head.sqn.rewards") == {"purchase": 1.0}
    with pytest.raises(ConfigError, match=r"^head\.sqn\.rewards: expected a JSON object"):
        from_text("[1]", "dict", "head.sqn.rewards")


def test_choice():
    assert from_text("tab", "str", "reader.csv.delimiter", choices=["auto", "tab"]) == "tab"
    with pytest.raises(ConfigError, match=r"^reader\.csv\.delimiter: 'x' is not one of \['auto', 'tab'\]$"):
        from_text("x", "str", "reader.csv.delimiter", choices=["auto", "tab"])
    assert from_text("4", "int", "heads", choices=[1, 2, 4]) == 4          # typed first, then checked
    with pytest.raises(ConfigError, match=r"^heads: 3 is not one of \[1, 2, 4\]$"):
        from_text("3", "int", "heads", choices=[1, 2, 4])


def test_none_for_an_empty_optional_and_required_otherwise():
    assert from_text("", "float?", "trainer.clip") is None
    assert from_text("  ", "int|None", "trainer.clip") is None
    assert from_text("0.5", "float?", "trainer.clip") == 0.5
    with pytest.raises(ConfigError, match=r"^model\.dim: a value is required \(an integer\)$"):
        from_text("", "int", "model.dim")


def test_union_takes_the_first_type_that_fits():
    assert from_text("3", "int|str", "k") == 3
    assert from_text("three", "int|str", "k") == "three"
    with pytest.raises(ConfigError, match=r"^k: 'x' does not match int\|float$"):
        from_text("x", "int|float", "k")


@dataclass
class _Opts:
    header: bool = option(True)
    limit: int = option(0, min=0)
    ratio: float | None = option(None)
    sep: str = option("auto", choices=["auto", "tab"])


def test_strings_to_options_types_declared_keys_and_names_the_full_key():
    typed = strings_to_options(_Opts, {"header": "no", "limit": "7", "ratio": "", "sep": "tab", "other": "x"},
                               "reader.csv")
    assert typed == {"header": False, "limit": 7, "ratio": None, "sep": "tab", "other": "x"}
    assert strings_to_options(_Opts, {"header": False}, "reader.csv") == {"header": False}   # typed already
    with pytest.raises(ConfigError, match=r"^reader\.csv\.limit: expected an integer, got 'seven'$"):
        strings_to_options(_Opts, {"limit": "seven"}, "reader.csv")
    with pytest.raises(ConfigError, match=r"reader\.csv\.other: unknown option"):   # parse_options judges the rest
        parse_options(_Opts, typed, "reader.csv")


def test_literal_for_search_spaces():
    assert literal("1e-4", "space") == pytest.approx(1e-4)
    assert literal("64", "space") == 64 and literal("true", "space") is True
    assert literal('"pre"', "space") == "pre" and literal("post", "space") == "post"   # a bare word is a string
    with pytest.raises(ConfigError, match=r"^--set 'x': '1 2' is not a number, true/false or a quoted string$"):
        literal("1 2", "--set 'x'")


def test_callers_use_the_one_coercer():
    """No second string-to-type converter left in the CLI, the app's forms or tune."""
    import workbench.data.formats as formats
    import workbench.tui.widgets.options_form as options_form
    import workbench.tune.space as space

    assert not hasattr(formats, "coerce_strings") and not hasattr(options_form, "coerce")
    assert not hasattr(space, "_literal")
    assert space.parse_distribution("model.dim", "choice(32, 64)", "w").args == (32, 64)


def test_cli_reader_option_is_typed_and_a_bad_one_names_the_key(wb_home, run_workbench, tmp_path):
    csv = tmp_path / "r.csv"
    csv.write_text("1,10,100\n1,11,101\n2,10,102\n2,12,103\n")            # no header row
    bad = run_workbench("-w", "lab", "data", "import", csv, "--format", "csv", "--map", "user=0,item=1,time=2",
                        "-o", "header=maybe")
    assert bad.returncode != 0
    assert "reader.csv.header: expected true or false, got 'maybe'" in bad.stderr
    assert not (wb_home / "lab.db").exists()                          # the workspace left as it was
    good = run_workbench("-w", "lab", "data", "import", csv, "--format", "csv", "--map", "user=0,item=1,time=2",
                         "-o", "header=no", "--json")
    assert good.returncode == 0, good.stderr
    assert '"n_interactions": 4' in good.stdout


async def test_the_composer_types_fields_and_options_with_the_coercer_and_names_the_key(tmp_path):
    """The app's path: typed text in the model fields and a plugin's option form becomes typed values
    (a list option by commas) or a message naming the key; saving stores the typed values."""
    from textual.widgets import Input

    from tui_helpers import demo_workspace, text_of, wait_for
    from workbench.store import experiments, open_workspace
    from workbench.tui.app import WorkbenchApp

    demo_workspace(tmp_path / "w.db")
    app = WorkbenchApp(tmp_path / "w.db", experiment="tiny")
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await wait_for(pilot, lambda: app.screen if app.current_mode == "compose" else None)
        await wait_for(pilot, lambda: screen.query("#opt-evaluators-ranking-ks"), what="the ranking options form")
        screen.query_one("#model-dim", Input).value = "sixteen"
        screen.action_validate()
        assert "model.dim: expected an integer, got 'sixteen'" in text_of(screen.query_one("#compose-message"))
        screen.query_one("#model-dim", Input).value = "24"
        screen.query_one("#opt-evaluators-ranking-ks", Input).value = "5, 10,x"
        screen.action_validate()
        assert "evaluators.ranking.ks[2]: expected an integer, got 'x'" in text_of(screen.query_one("#compose-message"))
        screen.query_one("#opt-evaluators-ranking-ks", Input).value = "5, 10"
        screen.action_save()
        assert "saved experiment 'tiny'" in text_of(screen.query_one("#compose-message"))
    with open_workspace(tmp_path / "w.db") as ws:
        saved = experiments.load(ws, "tiny")
    assert saved["model"]["dim"] == 24
    assert saved["evaluators"][0]["ks"] == [5, 10]
