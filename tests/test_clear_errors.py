"""One clear line instead of a traceback (issue 15, item 8): a non-UTF-8 experiment file, a checkpoint
that is not a valid weights file (and never torch's advice to load it with weights_only=False), and a
plugin SPEC that pip would take as an option."""

from __future__ import annotations

import json
import sqlite3

from integrity_helpers import CSV_MAP, cli, one_line_error, tiny_experiment, write_experiment, write_ratings
from workbench.engine.checkpoint import sha256_file


def test_non_utf8_experiment_file(tmp_path):
    exp = tmp_path / "latin1.toml"
    exp.write_bytes('name = "x"\n# caf\xe9\n'.encode("latin-1"))
    msg = one_line_error(cli(tmp_path / "ws.db", "run", exp))
    assert f"{exp}: line 2: not UTF-8 text (byte 0xe9)" in msg
    assert not (tmp_path / "ws.db").exists()


def test_invalid_checkpoint_file_is_one_line_and_never_suggests_unsafe_loading(tmp_path):
    ws = tmp_path / "ws.db"
    assert cli(ws, "data", "import", write_ratings(tmp_path / "r.csv"), "--name", "r", "--format", "csv",
               "--map", CSV_MAP).returncode == 0
    out = cli(ws, "run", write_experiment(tmp_path / "t.toml", tiny_experiment(1)), "--json")
    assert out.returncode == 0, out.stderr
    run_id = json.loads(out.stdout)["run_id"]
    db = sqlite3.connect(ws)
    stored = db.execute("SELECT path FROM checkpoints WHERE run_id = ? AND is_best = 1", [run_id]).fetchone()[0]
    best = tmp_path / "ws.files" / stored
    best.write_bytes(b"import os; this is not a weights file\n" * 10)   # replaced, and its hash re-recorded
    db.execute("UPDATE checkpoints SET sha256 = ? WHERE run_id = ? AND is_best = 1", [sha256_file(best), run_id])
    db.commit()
    db.close()
    proc = cli(ws, "recommend", "--run", run_id, "--user", "1")
    msg = one_line_error(proc)
    assert f"checkpoint {best} is not a valid Workbench weights file" in msg
    assert "weights_only=False" not in proc.stderr and "weights_only" not in msg


def test_a_plugin_spec_that_looks_like_a_pip_option_is_refused(tmp_path):
    proc = cli(tmp_path / "ws.db", "plugins", "install", "-r /etc/passwd")
    msg = one_line_error(proc)
    assert "looks like a pip option" in msg
    assert "Requirement" not in proc.stdout + proc.stderr and "root:" not in proc.stdout + proc.stderr
