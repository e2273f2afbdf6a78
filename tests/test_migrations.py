"""Schema migrations on real SQLite files: upgrade, atomicity, refusal of newer and foreign files."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
import textwrap

import pytest
import sqlite_utils

from workbench.store import WorkspaceError, open_workspace
from workbench.store import migrations as M
from workbench.store.workspace import connect


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def versions(db) -> list[int]:
    return [r[0] for r in db.execute("SELECT version FROM _workbench_migrations ORDER BY version")]


def test_workspace_at_older_schema_opens_and_upgrades(tmp_path):
    path = tmp_path / "old.db"
    db = connect(path)
    assert M.migrate(db, M.MIGRATIONS[:1]) == [M.MIGRATIONS[0].__name__]
    db.execute("INSERT INTO experiments (name, config, created_at, updated_at) VALUES ('kept', '{}', 0, 0)")
    db.conn.commit()
    assert M.current_version(db) == 1
    db.close()

    with open_workspace(path) as ws:
        assert versions(ws.db) == list(range(1, M.SCHEMA_VERSION + 1))
        assert ws.db.execute("SELECT name FROM experiments").fetchall() == [("kept",)]
        # every table created by the later migrations exists
        fresh = connect(tmp_path / "fresh.db")
        M.migrate(fresh)
        assert set(ws.db.table_names()) == set(fresh.table_names())
        fresh.close()


def test_appended_migration_applies_once_and_in_order(tmp_path):
    def m_extra(db: sqlite_utils.Database) -> None:
        db.execute("ALTER TABLE experiments ADD COLUMN note TEXT")

    db = connect(tmp_path / "w.db")
    M.migrate(db, M.MIGRATIONS)
    assert M.migrate(db, [*M.MIGRATIONS, m_extra]) == ["m_extra"]
    assert M.migrate(db, [*M.MIGRATIONS, m_extra]) == []
    assert "note" in db["experiments"].columns_dict
    assert versions(db) == list(range(1, M.SCHEMA_VERSION + 2))
    db.close()


def test_failing_migration_leaves_no_half_made_schema(tmp_path):
    def m_broken(db: sqlite_utils.Database) -> None:
        db.execute("CREATE TABLE half_made (x INTEGER)")
        db.execute("CREATE TABLE half_made (x INTEGER)")  # fails: already exists

    def m_fixed(db: sqlite_utils.Database) -> None:
        db.execute("CREATE TABLE half_made (x INTEGER)")

    db = connect(tmp_path / "w.db")
    with pytest.raises(sqlite3.OperationalError):
        M.migrate(db, [*M.MIGRATIONS, m_broken])
    assert "half_made" not in db.table_names()
    assert M.current_version(db) == M.SCHEMA_VERSION
    assert M.migrate(db, [*M.MIGRATIONS, m_fixed]) == ["m_fixed"]
    assert "half_made" in db.table_names()
    db.close()


def test_newer_schema_is_refused_and_file_untouched(tmp_path):
    path = tmp_path / "future.db"
    with open_workspace(path, create=True) as ws:
        ws.db.execute("INSERT INTO _workbench_migrations VALUES (?, 'm999_future', 0)", [M.SCHEMA_VERSION + 7])
        ws.db.conn.commit()
    before = sha(path)
    with pytest.raises(WorkspaceError) as e:
        open_workspace(path)
    msg = str(e.value)
    assert "newer Workbench" in msg and f"schema {M.SCHEMA_VERSION + 7}" in msg and str(path) in msg
    assert sha(path) == before


def test_migrate_itself_refuses_a_newer_database(tmp_path):
    db = connect(tmp_path / "w.db")
    M.migrate(db, M.MIGRATIONS)
    with pytest.raises(M.NewerSchemaError):
        M.migrate(db, M.MIGRATIONS[:1])
    db.close()


@pytest.mark.parametrize("create", [False, True])
def test_foreign_sqlite_database_is_refused_and_untouched(tmp_path, create):
    path = tmp_path / "other_app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.execute("INSERT INTO notes VALUES ('mine')")
    conn.commit()
    conn.close()
    before = sha(path)
    with pytest.raises(WorkspaceError, match="SQLite database but not a Workbench workspace"):
        open_workspace(path, create=create)
    assert sha(path) == before  # not even switched to WAL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other_app.db"]


@pytest.mark.parametrize("create", [False, True])
def test_non_sqlite_file_is_refused_and_untouched(tmp_path, create):
    path = tmp_path / "interactions.db"
    path.write_text("user,item,time\n1,2,3\n")
    before = sha(path)
    with pytest.raises(WorkspaceError, match="not an SQLite database file"):
        open_workspace(path, create=create)
    assert sha(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["interactions.db"]


def test_empty_file_is_a_workspace_only_when_creating(tmp_path):
    path = tmp_path / "empty.db"
    path.touch()
    with pytest.raises(WorkspaceError, match="empty file"):
        open_workspace(path)
    with open_workspace(path, create=True) as ws:
        assert M.current_version(ws.db) == M.SCHEMA_VERSION


def test_missing_workspace_is_not_created_without_create(tmp_path):
    with pytest.raises(WorkspaceError, match="no workspace at"):
        open_workspace(tmp_path / "nope.db")
    assert not (tmp_path / "nope.db").exists()


def test_concurrent_first_opens_apply_each_migration_once(tmp_path):
    """Several processes creating the same new workspace at once all succeed; each migration runs once."""
    path = tmp_path / "shared.db"
    script = textwrap.dedent("""
        import sys, time
        from workbench.store import open_workspace
        start = float(sys.argv[2])
        while time.time() < start:
            time.sleep(0.001)
        with open_workspace(sys.argv[1], create=True) as ws:
            pass
    """)
    import time
    start = time.time() + 1.5
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path), str(start)],
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    with open_workspace(path) as ws:
        assert versions(ws.db) == list(range(1, M.SCHEMA_VERSION + 1))


def test_a_migration_that_commits_by_itself_is_caught(tmp_path):
    def m_commits(db: sqlite_utils.Database) -> None:
        db.execute("CREATE TABLE t (x INTEGER)")
        db.conn.commit()

    db = connect(tmp_path / "w.db")
    with pytest.raises(RuntimeError, match="m_commits ended its transaction itself"):
        M.migrate(db, [*M.MIGRATIONS, m_commits])
    assert M.current_version(db) == M.SCHEMA_VERSION
    db.close()
