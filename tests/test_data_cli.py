"""`workbench data ...` and `workbench demo` run as real subprocesses against real workspace files."""

from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


def test_import_ls_stats_rm_round_trip(wb_home, run_workbench, shared_datasets):
    imp = run_workbench("-w", "lab", "data", "import", shared_datasets / "ml-100k", "--name", "ml100k",
                        "--min-rating", "4", "--kcore-users", "5", "--kcore-items", "5", "--json", check=True)
    summary = json.loads(imp.stdout)
    assert summary["name"] == "ml100k" and summary["format"] == "movielens_100k"
    assert summary["removed"]["min_rating"] == 44_625  # ratings 1-3 in ML-100K
    assert (wb_home / "lab.db").exists()

    rows = json.loads(run_workbench("-w", "lab", "data", "ls", "--json", check=True).stdout)
    assert [(r["name"], r["n_users"], r["n_interactions"]) for r in rows] == [
        ("ml100k", summary["n_users"], summary["n_interactions"])]

    stats = json.loads(run_workbench("-w", "lab", "data", "stats", "ml100k", "--json", check=True).stdout)
    assert stats["users"] == summary["n_users"] and stats["items"] == summary["n_items"]
    q = stats["sequence_length"]
    assert q["p5"] <= q["p25"] <= q["p50"] <= q["p75"] <= q["p95"] <= q["max"] and q["min"] >= 5
    assert 0 < stats["sparsity"] < 1 and stats["time_span"]["days"] > 100
    assert stats["options"]["min_rating"] == 4 and stats["options"]["kcore_users"] == 5

    human = run_workbench("-w", "lab", "data", "stats", "ml100k", check=True).stdout
    assert "sequence length p5" in human and "time span 1997-" in human

    again = run_workbench("-w", "lab", "data", "import", shared_datasets / "ml-100k", "--name", "ml100k")
    assert again.returncode != 0 and "already exists" in again.stderr and "--replace" in again.stderr

    rm = run_workbench("-w", "lab", "data", "rm", "ml100k", "--yes", check=True)
    assert "removed" in rm.stdout
    assert json.loads(run_workbench("-w", "lab", "data", "ls", "--json", check=True).stdout) == []
    missing = run_workbench("-w", "lab", "data", "stats", "ml100k")
    assert missing.returncode != 0 and "no dataset named 'ml100k'" in missing.stderr


def test_rm_asks_for_confirmation(wb_home, run_workbench):
    run_workbench("-w", "lab", "data", "import", DATA / "recbole", "--name", "rb", check=True)
    no = run_workbench("-w", "lab", "data", "rm", "rb", input="n\n")
    assert no.returncode != 0
    assert "rb" in run_workbench("-w", "lab", "data", "ls", check=True).stdout
    yes = run_workbench("-w", "lab", "data", "rm", "rb", input="y\n", check=True)
    assert "removed dataset 'rb'" in yes.stdout


def test_generic_csv_import_with_map_and_replace(wb_home, run_workbench):
    csv = DATA / "generic" / "events.csv"
    first = run_workbench("-w", "lab", "data", "import", csv, "--name", "shop",
                          "--map", "user=customer,item=product,time=when,action=event", "--json", check=True)
    assert json.loads(first.stdout)["n_interactions"] == 6
    stats = json.loads(run_workbench("-w", "lab", "data", "stats", "shop", "--json", check=True).stdout)
    assert stats["actions"] == {"view": 4, "cart": 1, "purchase": 1}
    replaced = run_workbench("-w", "lab", "data", "import", csv, "--name", "shop", "--replace", "--dedupe", "first",
                             "--map", "user=customer,item=product,time=when", "--json", check=True)
    assert json.loads(replaced.stdout)["n_interactions"] == 4
    nomap = run_workbench("-w", "lab", "data", "import", csv, "--name", "x")
    assert nomap.returncode != 0 and "map" in nomap.stderr


def test_ambiguous_or_unknown_format_is_a_clear_error(wb_home, run_workbench, tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01\x02")
    proc = run_workbench("-w", "lab", "data", "import", junk)
    assert proc.returncode != 0 and "cannot tell the format" in proc.stderr and "sasrec" in proc.stderr
    bad_opt = run_workbench("-w", "lab", "data", "import", DATA / "recbole", "-o", "colour=red")
    assert bad_opt.returncode != 0 and "reader.recbole.colour" in bad_opt.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    nothing = run_workbench("-w", "lab", "data", "import", empty, "--format", "sasrec")
    assert nothing.returncode != 0 and "nothing to import" in nothing.stderr
    too_strict = run_workbench("-w", "lab", "data", "import", DATA / "recbole", "--kcore-users", "50")
    assert too_strict.returncode != 0 and "kcore" in too_strict.stderr
    assert not (wb_home / "lab.db").exists()  # no failed import creates the workspace


def test_demo_command_builds_the_demo_workspace_once(wb_home, run_workbench):
    out = run_workbench("demo", "--json", check=True)
    first = json.loads(out.stdout)
    assert Path(first["workspace"]) == wb_home / "demo.db"
    assert first["users"] == 1000 and first["actions"]["view"] > first["actions"]["purchase"] > 0
    second = json.loads(run_workbench("demo", "--json", check=True).stdout)
    assert second["fingerprint"] == first["fingerprint"] and second["id"] == first["id"]
    text = run_workbench("demo", check=True).stdout
    assert "demo workspace:" in text and "actions view" in text
    custom = run_workbench("-w", wb_home / "elsewhere.db", "demo", "--json", check=True)
    assert json.loads(custom.stdout)["workspace"].endswith("elsewhere.db")
