"""The example third-party plugin: its metric is right, and it installs, works and uninstalls
through `workbench plugins ...` in a real throwaway environment."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import numpy as np
import pytest

from workbench.kinds import Rankings
from workbench.options import ConfigError, parse_options

EXAMPLE = Path(__file__).resolve().parents[1] / "plugins" / "examples" / "workbench-example-evaluator"
DIST = "workbench-example-evaluator"


@pytest.fixture
def longtail(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE / "src"))
    from workbench_example_evaluator import longtail as module
    from workbench_example_evaluator.options import LongTailOptions

    def make(**values):
        return module.LongTailEvaluator(parse_options(LongTailOptions, values, "evaluators.longtail"))

    return make


def rankings(topk, popularity, sampled=False) -> Rankings:
    topk = np.asarray(topk)
    u = len(topk)
    return Rankings(target_rank=np.zeros(u, int), topk=topk, targets=np.ones(u, int),
                    num_candidates=np.full(u, len(popularity) - 1), item_popularity=np.asarray(popularity, float),
                    history_length=np.full(u, 5), sampled=sampled)


POP = [0, 50, 40, 30, 5, 5, 4, 3, 2, 1, 0]  # items 1..10; the top 20% (2 items) are 1 and 2
TOPK = [[1, 3, 4], [2, 1, 0], [0, 0, 0], [9, 10, 8]]


def test_aplt_by_hand(longtail):
    # K=2: [1,3] -> 1/2, [2,1] -> 0, [] left out, [9,10] -> 1;  K=3: 2/3, 0 (2 listed), 1
    assert longtail(ks=[3, 2]).evaluate(rankings(TOPK, POP)) == pytest.approx({"APLT@2": 0.5, "APLT@3": 5 / 9})
    # a larger head (30% = items 1, 2, 3) moves item 3 out of the tail
    assert longtail(ks=[2], head_fraction=0.3).evaluate(rankings(TOPK, POP)) == pytest.approx({"APLT@2": 1 / 3})
    assert list(longtail(ks=[2]).evaluate(rankings(TOPK, POP, sampled=True))) == ["sampled_APLT@2"]


def test_ties_at_the_head_boundary_and_unseen_items(longtail):
    from workbench_example_evaluator.longtail import long_tail_mask

    # 5 items, head 40% = 2 items, but items 2-4 tie at the 2nd-largest count: all in the head
    assert long_tail_mask([0, 10, 5, 5, 5, 1], 0.4).tolist() == [False, False, False, False, False, True]
    # never-seen items are long-tail even when the "head" would reach them
    assert long_tail_mask([0, 3, 0, 0], 0.9).tolist() == [False, False, True, True]


def test_errors_are_clear(longtail):
    with pytest.raises(ValueError, match="APLT@5 needs top-5 lists but the rankings hold only 3"):
        longtail(ks=[5]).evaluate(rankings(TOPK, POP))
    with pytest.raises(ConfigError, match=r"^evaluators\.longtail\.ks\[0\]: 0 is below the minimum 1"):
        longtail(ks=[0])
    with pytest.raises(ConfigError, match=r"^evaluators\.longtail\.head_fraction: must be strictly between"):
        longtail(head_fraction=1.0)
    assert longtail().evaluate(rankings(np.zeros((0, 20), int), POP)) == {}


def test_on_real_movielens_popularity(longtail, shared_datasets):
    """Recommending the most popular items gives APLT 0, the least popular (seen) ones gives 1."""
    data = np.loadtxt(shared_datasets / "ml-100k" / "u.data", dtype=np.int64, usecols=(0, 1))
    popularity = np.bincount(data[:, 1], minlength=data[:, 1].max() + 1).astype(float)
    by_count = np.argsort(-popularity[1:], kind="stable") + 1
    users = 30
    head_lists = np.tile(by_count[:10], (users, 1))
    tail_lists = np.tile(by_count[-10:], (users, 1))
    ev = longtail(ks=[10], head_fraction=0.2)
    assert ev.evaluate(rankings(head_lists, popularity)) == {"APLT@10": 0.0}
    assert ev.evaluate(rankings(tail_lists, popularity)) == {"APLT@10": 1.0}
    mixed = np.concatenate([head_lists[:, :3], tail_lists[:, :7]], axis=1)
    assert ev.evaluate(rankings(mixed, popularity))["APLT@10"] == pytest.approx(0.7)


# ------------------------------------------------------------------ install / use / uninstall
def make_env(tmp_path: Path, name: str, exclude: tuple[str, ...] = ()) -> Path:
    """A throwaway venv that sees this environment's packages (Workbench, torch, pip, ...).

    ``python -m venv`` bases the venv on the base interpreter, not on this venv, so
    a ``.pth`` file adds this environment's site-packages (processing its .pth
    files, which installs Workbench's editable finder). Installs go into the new
    venv. Names in ``exclude`` are hidden by linking everything else instead.
    """
    env = tmp_path / name
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = env / "bin" / "python"
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    parent = Path(sysconfig.get_paths()["purelib"])
    if exclude:
        farm = tmp_path / f"{name}-site"
        farm.mkdir()
        for entry in parent.iterdir():
            if not entry.name.lower().startswith(exclude):
                (farm / entry.name).symlink_to(entry)
        parent = farm
    (purelib / "_workbench_test_parent.pth").write_text(f"import site; site.addsitedir({str(parent)!r})\n")
    return python


def test_install_list_use_uninstall_in_a_throwaway_environment(tmp_path, run_workbench):
    python = make_env(tmp_path, "venv")
    source = tmp_path / "example-src"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))

    def wb(*args, **kw):
        return run_workbench(*args, python=python, env={"WORKBENCH_LOAD_PLUGINS": None}, **kw)

    failed = wb("plugins", "install", str(tmp_path / "no-such-plugin"), "--no-index", timeout=300)
    assert failed.returncode != 0 and "pip install failed" in failed.stderr

    before = wb("plugins", "list", "--json", check=True)
    assert "example_evaluator" not in {p["name"] for p in json.loads(before.stdout)["plugins"]}

    # offline, no build isolation: everything needed is already in the environment
    installed = wb("plugins", "install", str(source), "--no-deps", "--no-build-isolation", "--no-index",
                   check=True, timeout=300)
    assert "Successfully installed workbench-example-evaluator-0.1.0" in installed.stdout
    assert "plugin example_evaluator from workbench-example-evaluator 0.1.0: evaluator: longtail" in installed.stdout
    assert "-c" in installed.stderr and "constraints" in installed.stderr  # the constraint rule was applied

    listing = json.loads(wb("plugins", "list", "--json", check=True).stdout)
    (row,) = [p for p in listing["plugins"] if p["name"] == "example_evaluator"]
    assert (row["package"], row["version"], row["builtin"]) == (DIST, "0.1.0", False)
    assert row["provides"] == {"evaluator": ["longtail"]}
    assert listing["errors"] == []
    assert any(p["builtin"] for p in listing["plugins"])  # built-ins still there

    info = json.loads(wb("plugins", "info", "longtail", "--json", check=True).stdout)
    (spec,) = info["plugins"][0]["specs"]
    assert [o["name"] for o in spec["options"]] == ["ks", "head_fraction"]
    assert spec["options"][1]["default"] == 0.2

    # use it from the installed package, through the registry, on real rankings
    use = subprocess.run([str(python), "-c", textwrap.dedent("""
        import json, numpy as np
        from workbench.kinds import Rankings
        from workbench.options import parse_options
        from workbench.plugins import get_registry
        spec = get_registry().get("evaluator", "longtail")
        ev = spec.load()(parse_options(spec.options, {"ks": [2]}, "evaluators.longtail"))
        r = Rankings(target_rank=np.zeros(2, int), topk=np.array([[1, 9], [9, 10]]), targets=np.ones(2, int),
                     num_candidates=np.full(2, 10), item_popularity=np.array([0, 50, 40, 30, 5, 5, 4, 3, 2, 1, 0.]),
                     history_length=np.full(2, 5))
        print(json.dumps({"module": spec.load().__module__, "metrics": ev.evaluate(r)}))
    """)], capture_output=True, text=True, check=True)
    result = json.loads(use.stdout)
    assert result == {"module": "workbench_example_evaluator.longtail", "metrics": {"APLT@2": 0.75}}

    # it went into the throwaway environment, not into this one
    import importlib.metadata as md
    with pytest.raises(md.PackageNotFoundError):
        md.distribution(DIST)

    declined = wb("plugins", "uninstall", "example_evaluator", input="n\n", check=True)
    assert "nothing uninstalled" in declined.stdout
    removed = wb("plugins", "uninstall", "example_evaluator", input="y\n", check=True, timeout=300)
    assert "uninstalled workbench-example-evaluator" in removed.stdout
    after = json.loads(wb("plugins", "list", "--json", check=True).stdout)
    assert "example_evaluator" not in {p["name"] for p in after["plugins"]}
    gone = wb("plugins", "uninstall", "example_evaluator", "--yes")
    assert gone.returncode != 0 and "no installed plugin or plugin package named 'example_evaluator'" in gone.stderr

    # an editable install (a plugin under development) is picked up by later runs too
    editable = wb("plugins", "install", "-e", str(source), "--no-deps", "--no-build-isolation", "--no-index",
                  check=True, timeout=300)
    assert "plugin example_evaluator from workbench-example-evaluator 0.1.0: evaluator: longtail" in editable.stdout
    assert "fails to load" not in editable.stderr
    removed = wb("plugins", "uninstall", DIST, "--yes", check=True, timeout=300)
    assert "uninstalled workbench-example-evaluator 0.1.0 (plugins: example_evaluator)" in removed.stdout


def test_install_without_pip_says_so(tmp_path, run_workbench):
    python = make_env(tmp_path, "nopip", exclude=("pip",))
    proc = run_workbench("plugins", "install", str(EXAMPLE), python=python)
    assert proc.returncode != 0
    assert "has no pip" in proc.stderr and "ensurepip" in proc.stderr
    assert "Traceback" not in proc.stderr
