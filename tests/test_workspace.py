"""`workbench workspace new|ls|rm|export|import` on real files, through the real CLI."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path


from workbench.store import open_workspace, resolve_workspace_path
from workbench.store import migrations as M
from workbench.store.workspace import connect


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ls(run_workbench) -> dict[str, dict]:
    proc = run_workbench("workspace", "ls", "--json", check=True)
    return {row["name"]: row for row in json.loads(proc.stdout)}


def add_run_with_checkpoint(ws, payload: bytes = b"weights") -> Path:
    """A real run row and a checkpoint file in the workspace's files folder, stored by absolute path."""
    ws.db.execute("INSERT INTO datasets (name, format, source_files, options, n_users, n_items, "
                  "n_interactions, has_timestamps, fingerprint, created_at) "
                  "VALUES ('ml', 'csv', '[]', '{}', 2, 3, 4, 1, 'f', 0)")
    ws.db.execute("INSERT INTO runs (status, config, created_at) VALUES ('completed', '{}', 0)")
    ckpt = ws.files_dir / "run-1" / "epoch-3.pt"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(payload)
    ws.db.execute("INSERT INTO checkpoints (run_id, epoch, path, sha256, is_best, created_at) "
                  "VALUES (1, 3, ?, ?, 1, 0)", [str(ckpt.resolve()), hashlib.sha256(payload).hexdigest()])
    ws.db.conn.commit()
    return ckpt


def test_new_ls_rm(wb_home, run_workbench):
    proc = run_workbench("workspace", "new", "alpha", check=True)
    assert "alpha.db" in proc.stdout
    again = run_workbench("workspace", "new", "alpha")
    assert again.returncode != 0 and "already exists" in again.stderr

    rows = ls(run_workbench)
    assert set(rows) == {"alpha"}
    alpha = rows["alpha"]
    assert Path(alpha["path"]).resolve() == (wb_home / "alpha.db").resolve()
    assert (alpha["datasets"], alpha["runs"], alpha["schema_version"]) == (0, 0, M.SCHEMA_VERSION)
    assert alpha["size"] >= (wb_home / "alpha.db").stat().st_size > 0

    human = run_workbench("workspace", "ls", check=True).stdout
    assert "alpha" in human and "SCHEMA" in human

    declined = run_workbench("workspace", "rm", "alpha", input="n\n")
    assert declined.returncode == 0 and (wb_home / "alpha.db").exists()
    run_workbench("workspace", "rm", "alpha", "--yes", check=True)
    assert list(wb_home.iterdir()) == []
    assert ls(run_workbench) == {}


def test_new_accepts_a_path_and_rejects_bad_names(tmp_path, wb_home, run_workbench):
    target = tmp_path / "elsewhere" / "proj.db"
    run_workbench("workspace", "new", str(target), check=True)
    with open_workspace(target) as ws:
        assert M.current_version(ws.db) == M.SCHEMA_VERSION
    bad = run_workbench("workspace", "new", "bad name!")
    assert bad.returncode != 0 and "bad workspace name" in bad.stderr
    assert list(wb_home.iterdir()) == []


def test_rm_removes_wal_shm_and_files_folder(wb_home, run_workbench):
    ws = open_workspace("beta", create=True)
    add_run_with_checkpoint(ws)
    assert (wb_home / "beta.db-wal").exists() and (wb_home / "beta.db-shm").exists()
    try:
        proc = run_workbench("workspace", "rm", "beta", input="y\n", check=True)
    finally:
        ws.close()
    assert "beta.files" in proc.stdout  # the confirmation listed what goes
    assert sorted(p.name for p in wb_home.iterdir()) == []


def test_rm_refuses_a_file_that_is_not_a_workspace(wb_home, run_workbench):
    notes = wb_home / "notes.db"
    notes.write_text("not a database")
    proc = run_workbench("workspace", "rm", "notes", "--yes")
    assert proc.returncode != 0 and "not a Workbench workspace" in proc.stderr
    assert notes.read_text() == "not a database"
    # and ls shows it with its problem rather than crashing
    assert "not an SQLite" in ls(run_workbench)["notes"]["error"]


def test_export_is_self_contained_with_wal_content_and_relative_checkpoints(tmp_path, wb_home, run_workbench):
    ws = open_workspace("gamma", create=True)
    ws.db.execute("PRAGMA wal_autocheckpoint=0")  # keep the new rows in the WAL only
    ckpt = add_run_with_checkpoint(ws, b"\x00\x01best")
    assert (wb_home / "gamma.db-wal").stat().st_size > 0
    try:
        out_dir = tmp_path / "backup"
        out_dir.mkdir()
        proc = run_workbench("workspace", "export", "gamma", str(out_dir), check=True)
        assert "1 checkpoint path(s) made relative" in proc.stdout
        # the source is unchanged: still absolute, still there
        assert ws.db.execute("SELECT path FROM checkpoints").fetchone()[0] == str(ckpt.resolve())
    finally:
        ws.close()
    exported = out_dir / "gamma.db"
    assert sorted(p.name for p in out_dir.iterdir()) == ["gamma.db", "gamma.files"]  # no -wal needed

    # move the export somewhere else entirely: it must still work on its own
    moved = tmp_path / "moved"
    out_dir.rename(moved)
    with open_workspace(moved / "gamma.db") as copy:
        assert copy.db.execute("SELECT COUNT(*) FROM datasets").fetchone()[0] == 1
        stored = copy.db.execute("SELECT path FROM checkpoints").fetchone()[0]
        assert stored == "run-1/epoch-3.pt"
        assert copy.resolve_file(stored).read_bytes() == b"\x00\x01best"
    assert not exported.exists()

    again = run_workbench("workspace", "export", "gamma", str(moved / "gamma.db"))
    assert again.returncode != 0 and "already exists" in again.stderr


def test_import_copies_in_and_refuses_existing_name(tmp_path, wb_home, run_workbench):
    src = tmp_path / "from_colleague.db"
    with open_workspace(src, create=True) as ws:
        add_run_with_checkpoint(ws, b"theirs")
    before = sha(src)
    run_workbench("workspace", "import", str(src), "--name", "delta", check=True)
    assert sha(src) == before
    rows = ls(run_workbench)
    assert (rows["delta"]["datasets"], rows["delta"]["runs"]) == (1, 1)
    with open_workspace("delta") as ws:
        stored = ws.db.execute("SELECT path FROM checkpoints").fetchone()[0]
        assert ws.resolve_file(stored).read_bytes() == b"theirs"
        assert ws.resolve_file(stored).resolve().is_relative_to(wb_home.resolve())

    clash = run_workbench("workspace", "import", str(src), "--name", "delta")
    assert clash.returncode != 0 and "already exists" in clash.stderr
    default_name = run_workbench("workspace", "import", str(src), check=True)
    assert "from_colleague.db" in default_name.stdout
    assert set(ls(run_workbench)) == {"delta", "from_colleague"}


def test_import_upgrades_an_older_workspace_and_leaves_the_source_alone(tmp_path, wb_home, run_workbench):
    src = tmp_path / "v1.db"
    db = connect(src)
    M.migrate(db, M.MIGRATIONS[:1])
    db.close()
    before = sha(src)
    run_workbench("workspace", "import", str(src), "--name", "old", check=True)
    assert ls(run_workbench)["old"]["schema_version"] == M.SCHEMA_VERSION
    assert sha(src) == before
    raw = sqlite3.connect(src)
    assert raw.execute("SELECT MAX(version) FROM _workbench_migrations").fetchone()[0] == 1
    raw.close()


def test_import_refuses_newer_and_foreign_files_and_leaves_home_empty(tmp_path, wb_home, run_workbench):
    newer = tmp_path / "newer.db"
    with open_workspace(newer, create=True) as ws:
        ws.db.execute("INSERT INTO _workbench_migrations VALUES (?, 'm_future', 0)", [M.SCHEMA_VERSION + 1])
        ws.db.conn.commit()
    foreign = tmp_path / "foreign.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    text = tmp_path / "log.csv"
    text.write_text("u,i,t\n")

    for path, message in [(newer, "newer Workbench"), (foreign, "not a Workbench workspace"),
                          (text, "not an SQLite database file")]:
        before = sha(path)
        proc = run_workbench("workspace", "import", str(path))
        assert proc.returncode != 0 and message in proc.stderr, proc.stderr
        assert sha(path) == before
    assert list(wb_home.iterdir()) == []


def test_workspace_resolution_home_name_path_and_env(tmp_path, wb_home, monkeypatch):
    assert resolve_workspace_path("x") == wb_home / "x.db"
    assert resolve_workspace_path(str(tmp_path / "y.db")) == tmp_path / "y.db"
    assert resolve_workspace_path() == wb_home / "default.db"
    monkeypatch.setenv("WORKBENCH_WORKSPACE", "picked")
    assert resolve_workspace_path() == wb_home / "picked.db"
    assert resolve_workspace_path("explicit") == wb_home / "explicit.db"  # --workspace beats the env


def test_files_dir_and_file_helpers(tmp_path):
    with open_workspace(tmp_path / "w.db", create=True) as ws:
        assert ws.files_dir == tmp_path / "w.files"
        inside = ws.files_dir / "run-2" / "last.pt"
        assert ws.relative_file(inside) == "run-2/last.pt"
        assert ws.resolve_file("run-2/last.pt") == inside
        outside = tmp_path / "elsewhere.pt"
        assert ws.relative_file(outside) == str(outside)
        assert ws.resolve_file(str(outside)) == outside


def test_workspace_option_and_env_select_the_workspace_in_use(tmp_path, wb_home, run_workbench):
    for name in ("a", "b"):
        run_workbench("workspace", "new", name, check=True)
    elsewhere = tmp_path / "proj" / "c.db"
    run_workbench("workspace", "new", str(elsewhere), check=True)

    def in_use(*args, env=None):
        return json.loads(run_workbench(*args, "workspace", "info", "--json", env=env, check=True).stdout)

    assert in_use("--workspace", "b")["name"] == "b"
    assert in_use(env={"WORKBENCH_WORKSPACE": "a"})["name"] == "a"
    assert in_use("-w", "b", env={"WORKBENCH_WORKSPACE": "a"})["name"] == "b"  # the option wins
    by_path = in_use("-w", str(elsewhere))
    assert Path(by_path["path"]) == elsewhere and Path(by_path["files_dir"]) == tmp_path / "proj" / "c.files"
    missing = run_workbench("workspace", "info")  # nothing chosen: the `default` workspace, absent here
    assert missing.returncode != 0 and "default.db" in missing.stderr


def test_committed_data_survives_a_crashing_process(tmp_path):
    """A process killed mid-way (no close, no checkpoint) loses nothing it committed."""
    import subprocess
    import sys
    import textwrap

    path = tmp_path / "crash.db"
    script = textwrap.dedent("""
        import os, sys
        from workbench.store import open_workspace
        ws = open_workspace(sys.argv[1], create=True)
        ws.db.execute("INSERT INTO experiments (name, config, created_at, updated_at) VALUES ('kept', '{}', 0, 0)")
        ws.db.conn.commit()
        ws.db.execute("BEGIN")  # (sqlite_utils commits single writes itself; this one stays open)
        ws.db.execute("INSERT INTO experiments (name, config, created_at, updated_at) VALUES ('lost', '{}', 0, 0)")
        os._exit(9)  # dies with an open transaction and an unmerged WAL
    """)
    proc = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    with open_workspace(path) as ws:
        assert [r[0] for r in ws.db.execute("SELECT name FROM experiments")] == ["kept"]


def test_rm_refuses_a_workspace_with_a_live_job_unless_forced(wb_home, run_workbench):
    import time

    with open_workspace("busy", create=True) as ws:
        ws.db.execute("INSERT INTO runs (status, config, created_at) VALUES ('running', '{}', 0)")
        ws.db.execute("INSERT INTO jobs (run_id, status, device, pid, heartbeat, created_at) "
                      "VALUES (1, 'running', 'cpu', 1, ?, 0)", [time.time()])
        ws.db.conn.commit()
    refused = run_workbench("workspace", "rm", "busy", "--yes")
    assert refused.returncode != 0 and "1 run(s) training now" in refused.stderr
    assert (wb_home / "busy.db").exists()
    run_workbench("workspace", "rm", "busy", "--yes", "--force", check=True)
    assert not (wb_home / "busy.db").exists()


def test_export_warns_about_checkpoints_outside_the_files_folder(tmp_path, wb_home, run_workbench):
    outside = tmp_path / "elsewhere" / "manual.pt"
    outside.parent.mkdir()
    outside.write_bytes(b"x")
    with open_workspace("eps", create=True) as ws:
        ws.db.execute("INSERT INTO runs (status, config, created_at) VALUES ('completed', '{}', 0)")
        ws.db.execute("INSERT INTO checkpoints (run_id, epoch, path, sha256, created_at) VALUES (1, 1, ?, 'h', 0)",
                      [str(outside)])
        ws.db.execute("INSERT INTO checkpoints (run_id, epoch, path, sha256, created_at) "
                      "VALUES (1, 2, 'run-1/epoch-2.pt', 'h', 0)")
        ws.db.conn.commit()
    proc = run_workbench("workspace", "export", "eps", str(tmp_path / "eps-copy.db"), check=True)
    assert f"checkpoint {outside} is outside the workspace's files folder and was not copied" in proc.stderr
    assert "made relative" not in proc.stdout
    copy = sqlite3.connect(tmp_path / "eps-copy.db")
    assert [r[0] for r in copy.execute("SELECT path FROM checkpoints ORDER BY epoch")] == [
        str(outside), "run-1/epoch-2.pt"]
    copy.close()
    assert not (tmp_path / "eps-copy.files").exists()  # nothing to copy: the source has no files folder
