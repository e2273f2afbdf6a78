"""Numbered schema migrations, each applied once inside a transaction.

The schema changes only here. ``SCHEMA_VERSION`` is the number of migrations;
a workspace recorded with a higher version than this build knows is refused.
To change the schema, append a function to ``MIGRATIONS``; never edit one that
has shipped (m003 was emptied once, when its table moved to the plugin that owns it).
Tables a plugin keeps for itself are declared by the plugin (``register_tables``,
:mod:`workbench.store.plugin_tables`), never here.
"""

from __future__ import annotations

import time

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported lazily: the CLI lists workspaces without it
    import sqlite_utils


def m001_initial(db: sqlite_utils.Database) -> None:
    db.execute("""
        CREATE TABLE datasets (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            format TEXT NOT NULL,
            source_files TEXT NOT NULL,        -- JSON [{path, sha256, size}]
            options TEXT NOT NULL,             -- JSON preprocessing + import options
            n_users INTEGER NOT NULL,
            n_items INTEGER NOT NULL,
            n_interactions INTEGER NOT NULL,
            has_timestamps INTEGER NOT NULL,
            fingerprint TEXT NOT NULL,         -- hash of the processed interactions
            created_at REAL NOT NULL
        )""")
    # Processed interactions: contiguous ids (1..n, 0 is padding), chronological
    # position `pos` within the user (stable tie rule applied at import).
    db.execute("""
        CREATE TABLE interactions (
            dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
            user INTEGER NOT NULL,
            item INTEGER NOT NULL,
            pos INTEGER NOT NULL,
            ts REAL,
            action TEXT,
            value REAL
        )""")
    db.execute("CREATE INDEX idx_interactions_user ON interactions(dataset_id, user, pos)")
    db.execute("""
        CREATE TABLE items (
            dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
            item INTEGER NOT NULL,
            raw_id TEXT NOT NULL,
            title TEXT,
            text TEXT,
            categories TEXT,                   -- JSON list
            extra TEXT,                        -- JSON object
            PRIMARY KEY (dataset_id, item)
        )""")
    db.execute("CREATE INDEX idx_items_raw ON items(dataset_id, raw_id)")
    db.execute("""
        CREATE TABLE users (
            dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
            user INTEGER NOT NULL,
            raw_id TEXT NOT NULL,
            attributes TEXT,                   -- JSON object
            PRIMARY KEY (dataset_id, user)
        )""")
    db.execute("CREATE INDEX idx_users_raw ON users(dataset_id, raw_id)")
    db.execute("""
        CREATE TABLE experiments (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            config TEXT NOT NULL,              -- JSON (the parsed TOML)
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )""")
    db.execute("""
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            experiment_id INTEGER REFERENCES experiments(id) ON DELETE SET NULL,
            name TEXT,
            dataset_id INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
            status TEXT NOT NULL,              -- queued|running|completed|failed|cancelled
            config TEXT NOT NULL,              -- JSON, fully resolved
            device TEXT,
            versions TEXT,                     -- JSON {package: version}
            data_fingerprint TEXT,
            seed INTEGER,
            progress TEXT,                     -- JSON, latest progress snapshot
            test_metrics TEXT,                 -- JSON
            best_epoch INTEGER,
            error TEXT,                        -- traceback of a failure
            created_at REAL NOT NULL,
            started_at REAL,
            finished_at REAL
        )""")
    db.execute("CREATE INDEX idx_runs_status ON runs(status)")
    db.execute("""
        CREATE TABLE epoch_metrics (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            epoch INTEGER NOT NULL,
            train_loss REAL,
            metrics TEXT NOT NULL,             -- JSON validation metrics
            wall_time REAL,                    -- seconds for the epoch
            created_at REAL NOT NULL,
            PRIMARY KEY (run_id, epoch)
        )""")
    db.execute("""
        CREATE TABLE run_events (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            ts REAL NOT NULL,
            level TEXT NOT NULL,               -- debug|info|warning|error
            kind TEXT NOT NULL,
            message TEXT NOT NULL,
            data TEXT                          -- JSON
        )""")
    db.execute("CREATE INDEX idx_run_events_run ON run_events(run_id, id)")
    db.execute("""
        CREATE TABLE checkpoints (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            epoch INTEGER NOT NULL,
            path TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            is_best INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL
        )""")
    db.execute("CREATE INDEX idx_checkpoints_run ON checkpoints(run_id)")


def m002_jobs(db: sqlite_utils.Database) -> None:
    """The background job queue: one row per execution attempt of a run."""
    db.execute("""
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            status TEXT NOT NULL,              -- queued|running|completed|failed|cancelled
            device TEXT NOT NULL,              -- as requested: auto|cpu|cuda|cuda:N|mps
            resume INTEGER NOT NULL DEFAULT 0, -- 1: continue the run from its last checkpoint
            pid INTEGER,                       -- worker process running it
            host TEXT,                         -- host of that worker
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            heartbeat REAL,                    -- last sign of life from the worker
            created_at REAL NOT NULL,
            started_at REAL,
            finished_at REAL,
            error TEXT
        )""")
    db.execute("CREATE INDEX idx_jobs_status ON jobs(status, device, id)")
    db.execute("CREATE INDEX idx_jobs_run ON jobs(run_id)")


def m003_text_embeddings(db: sqlite_utils.Database) -> None:
    """Formerly created the text view's embedding cache. The text view plugin now declares that
    table itself (``register_tables``, created on first use with the same columns), so the core
    schema names no plugin's table; this step stays, empty, to keep the version numbers: workspaces
    made before keep their ``text_embeddings`` table and its rows."""


def m004_test_groups(db: sqlite_utils.Database) -> None:
    """Test metrics per history-length group (short/medium/long), next to ``test_metrics``."""
    db.execute("ALTER TABLE runs ADD COLUMN test_groups TEXT")   # JSON {groups, group_bounds, group_sizes}


def m005_research(db: sqlite_utils.Database) -> None:
    """Per-user metrics of every evaluation split, and run groups (repeated seeds, tuning studies)."""
    # One row per (run, split): the evaluated users in ascending id order (int32 little-endian);
    # every metric blob of that split lists its values in this order.
    db.execute("""
        CREATE TABLE eval_users (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            split TEXT NOT NULL,               -- valid|test
            num_users INTEGER NOT NULL,
            users BLOB NOT NULL,               -- int32 little-endian, ascending user ids
            PRIMARY KEY (run_id, split)
        )""")
    db.execute("""
        CREATE TABLE user_metrics (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            split TEXT NOT NULL,
            metric TEXT NOT NULL,              -- e.g. NDCG@10
            vector BLOB NOT NULL,              -- float32 little-endian, one per user of eval_users (NaN = undefined)
            PRIMARY KEY (run_id, split, metric)
        )""")
    db.execute("""
        CREATE TABLE run_groups (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,                -- seeds|tune
            name TEXT NOT NULL,
            experiment_id INTEGER REFERENCES experiments(id) ON DELETE SET NULL,
            spec TEXT NOT NULL,                -- JSON: seeds, or the search space / trials / pruner of a study
            status TEXT NOT NULL,              -- running|completed|failed|cancelled
            pid INTEGER,                       -- process driving it (background studies)
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            created_at REAL NOT NULL,
            finished_at REAL
        )""")
    db.execute("ALTER TABLE runs ADD COLUMN group_id INTEGER REFERENCES run_groups(id) ON DELETE SET NULL")
    db.execute("CREATE INDEX idx_runs_group ON runs(group_id)")



def m006_run_owner_and_workers(db: sqlite_utils.Database) -> None:
    """One trainer per run: an owner lease with a fencing token; a registry of worker processes."""
    # owner_token grows by one each time a process takes the lease; every write a trainer makes is
    # conditional on the token it got, so a stale owner (suspended, then resumed) writes nothing.
    db.execute("ALTER TABLE runs ADD COLUMN owner_token INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE runs ADD COLUMN owner_pid INTEGER")      # process holding the lease (NULL: none)
    db.execute("ALTER TABLE runs ADD COLUMN owner_host TEXT")
    db.execute("ALTER TABLE runs ADD COLUMN owner_heartbeat REAL")   # last sign of life of that process
    # Worker processes serving a device's queue, registered by the launcher when it starts one and
    # removed by the worker when it exits: a queued job with no live worker for its device is stranded.
    db.execute("""
        CREATE TABLE workers (
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            device TEXT NOT NULL,
            started_at REAL NOT NULL,
            PRIMARY KEY (host, pid)
        )""")



def m007_process_start_times(db: sqlite_utils.Database) -> None:
    """A pid with its process's start time (workbench.liveness.process_started), so that a new process
    that got a dead owner's or worker's pid is not taken for it (NULL: unknown, the pid alone decides)."""
    db.execute("ALTER TABLE runs ADD COLUMN owner_started REAL")
    db.execute("ALTER TABLE jobs ADD COLUMN pid_started REAL")
    db.execute("ALTER TABLE workers ADD COLUMN pid_started REAL")


def m008_group_process(db: sqlite_utils.Database) -> None:
    """The process driving a run group (a study's worker, a foreground ``run --seeds``): its start time and
    host next to ``run_groups.pid``, so that readers can tell a group whose process is gone (NULL: unknown)."""
    db.execute("ALTER TABLE run_groups ADD COLUMN pid_started REAL")
    db.execute("ALTER TABLE run_groups ADD COLUMN host TEXT")


MIGRATIONS = [m001_initial, m002_jobs, m003_text_embeddings, m004_test_groups, m005_research,
              m006_run_owner_and_workers, m007_process_start_times, m008_group_process]
SCHEMA_VERSION = len(MIGRATIONS)


def current_version(db: sqlite_utils.Database) -> int:
    if "_workbench_migrations" not in db.table_names():
        return 0
    row = db.execute("SELECT MAX(version) FROM _workbench_migrations").fetchone()
    return row[0] or 0


class NewerSchemaError(RuntimeError):
    """The database records a migration this build does not know."""


def migrate(db: sqlite_utils.Database, migrations: list | None = None) -> list[str]:
    """Apply pending migrations; returns the names applied.

    ``migrations`` defaults to :data:`MIGRATIONS` (tests pass their own list).
    Each migration runs in its own ``BEGIN IMMEDIATE`` transaction together with
    its ``_workbench_migrations`` row, so a migration that fails leaves no
    half-made schema behind (Python's sqlite3 would otherwise autocommit each
    ``CREATE``), and two processes opening a new workspace at once do not both
    apply it: the version is re-read under the write lock. Raises
    :class:`NewerSchemaError` when the database is ahead of the list.
    """
    migrations = MIGRATIONS if migrations is None else migrations
    conn = db.conn
    if conn.in_transaction:
        conn.commit()
    conn.execute("""CREATE TABLE IF NOT EXISTS _workbench_migrations (
        version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)""")
    applied = []
    for number, fn in enumerate(migrations, start=1):
        if number <= current_version(db):
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = current_version(db)
            if version >= number:  # another process applied it while we waited for the lock
                conn.rollback()
                continue
            fn(db)
            if not conn.in_transaction:
                raise RuntimeError(f"migration {fn.__name__} ended its transaction itself (a `with db.conn:` "
                                   "or a sqlite-utils helper that commits); use db.execute only")
            conn.execute("INSERT INTO _workbench_migrations VALUES (?, ?, ?)",
                         (number, fn.__name__, time.time()))
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        applied.append(fn.__name__)
    version = current_version(db)
    if version > len(migrations):
        raise NewerSchemaError(f"schema version {version} is newer than this Workbench knows "
                               f"({len(migrations)}); upgrade seqrec-workbench to open it")
    return applied
