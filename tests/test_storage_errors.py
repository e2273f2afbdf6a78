"""A workspace that cannot be written or read gives one clear line naming the file, never a traceback:
read-only file or folder, disk full, a damaged page (issue 15, defect 8). Real SQLite files, the real
CLI in subprocesses; the read-only cases run the CLI as an unprivileged user when the tests run as
root (root may write anywhere), the disk-full cases on a small tmpfs in a private mount namespace
(skipped where one cannot be made)."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from integrity_helpers import CLI, CSV_MAP, cli, one_line_error, tiny_experiment, write_experiment, write_ratings

NOBODY = 65534


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A folder (readable by everyone) with a workspace holding one dataset and one completed run."""
    folder = Path(tempfile.mkdtemp(prefix="wb-storage-", dir=tmp_path_factory.getbasetemp()))
    os.chmod(folder, 0o755)
    write_ratings(folder / "r.csv")
    write_ratings(folder / "r2.csv", seed=9)
    write_experiment(folder / "tiny.toml", tiny_experiment(1))
    ws = folder / "ws.db"
    assert cli(ws, "data", "import", folder / "r.csv", "--name", "r", "--format", "csv", "--map", CSV_MAP).returncode == 0
    out = cli(ws, "run", folder / "tiny.toml")
    assert out.returncode == 0, out.stderr
    conn = sqlite3.connect(ws)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")   # the main file alone is the state
    conn.close()
    return folder


def copy_of(trained: Path, dest: Path) -> Path:
    shutil.copytree(trained, dest)
    for p in [dest, *dest.rglob("*")]:
        os.chmod(p, 0o777 if p.is_dir() else 0o666)
    return dest / "ws.db"


def as_user(ws: Path, *args) -> subprocess.CompletedProcess:
    """The CLI as an unprivileged user (when we are root, through setpriv) so that file permissions apply."""
    prefix = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: file permissions cannot be tested")
        prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    return subprocess.run([*prefix, sys.executable, "-c", CLI, "--workspace", str(ws), *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=Path(__file__).resolve().parents[1],
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "HOME": "/tmp"})


@pytest.fixture
def world_tmp(tmp_path):
    folder = Path(tempfile.mkdtemp(prefix="wb-ro-"))     # outside root's 0700 pytest folder
    os.chmod(folder, 0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _owned_by_user(path: Path) -> None:
    if os.geteuid() == 0:
        for p in [path, *path.rglob("*")]:
            os.chown(p, NOBODY, NOBODY)


def test_a_read_only_workspace_file_gives_one_line_and_stays_as_it_was(trained, world_tmp):
    ws = copy_of(trained, world_tmp / "w")
    _owned_by_user(ws.parent)
    os.chmod(ws, 0o444)
    before = digest(ws)
    for args in (["data", "import", ws.parent / "r2.csv", "--name", "r2", "--format", "csv", "--map", CSV_MAP],
                 ["run", ws.parent / "tiny.toml"], ["runs", "rm", "1"]):
        msg = one_line_error(as_user(ws, *args))
        assert f"{ws} cannot be written" in msg and "read-only" in msg, msg
    assert digest(ws) == before
    assert as_user(ws, "runs", "ls").returncode == 0                  # reading still works


def test_a_workspace_in_a_read_only_folder_gives_one_line(trained, world_tmp):
    ws = copy_of(trained, world_tmp / "w")
    _owned_by_user(ws.parent)
    os.chmod(ws.parent, 0o555)           # the -wal and -shm files cannot be created
    try:
        before = digest(ws)
        for args in (["runs", "ls"], ["run", ws.parent / "tiny.toml"]):
            msg = one_line_error(as_user(ws, *args))
            assert f"{ws} cannot be written" in msg and "read-only" in msg, msg
        assert digest(ws) == before
    finally:
        os.chmod(ws.parent, 0o777)


def _damage_a_middle_page(ws: Path) -> int:
    """Overwrite the root page of ``run_events`` (a page in the middle of the file) with garbage."""
    conn = sqlite3.connect(ws)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'run_events'").fetchone()[0]
    conn.close()
    assert 1 < root < pages
    with open(ws, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(bytes([0xA5]) * page_size)
    return root


def test_a_damaged_page_in_the_middle_gives_one_line_naming_the_file(trained, tmp_path):
    ws = copy_of(trained, tmp_path / "w")
    _damage_a_middle_page(ws)
    failed = 0
    for args in (["runs", "show", "1"], ["runs", "ls"], ["data", "ls"], ["run", ws.parent / "tiny.toml"],
                 ["runs", "rm", "1"]):
        out = cli(ws, *args)
        assert "Traceback" not in out.stderr, out.stderr
        if out.returncode != 0:
            failed += 1
            msg = one_line_error(out)
            assert f"{ws} is damaged" in msg and "PRAGMA integrity_check" in msg and "backup" in msg, msg
    assert failed >= 2       # those that touch the damaged page (at least runs show and run)


# ------------------------------------------------------------------ disk full
def _namespace_prefix() -> list[str]:
    """A command prefix giving a private mount namespace where this user may mount a tmpfs."""
    if shutil.which("unshare") is None:
        return []
    for prefix in (["unshare", "-m"], ["unshare", "-r", "-m"]):
        probe = subprocess.run([*prefix, "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                               capture_output=True, timeout=30)
        if probe.returncode == 0:
            return prefix
    return []


SCRIPT = r"""
import json, shutil, subprocess, sys
from pathlib import Path
src, mnt, size = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], check=True)
shutil.copy(src / "ws.db", mnt / "ws.db")
def cli(*args):
    p = subprocess.run([sys.executable, "-c", "from workbench.cli import main; main()", "--workspace",
                        str(mnt / "ws.db"), *args], capture_output=True, text=True, timeout=600)
    return {"rc": p.returncode, "stderr": p.stderr}
out = {"import": cli("data", "import", str(src / "big.csv"), "--name", "big", "--format", "csv", "--map",
                     "user=u,item=i,time=t")}
shutil.copy(src / "ws.db", mnt / "ws.db")
out["runs_ls"] = cli("runs", "ls", "--json")
import sqlite3
conn = sqlite3.connect(mnt / "ws.db")
out["integrity"] = conn.execute("PRAGMA integrity_check").fetchone()[0]
out["datasets"] = conn.execute("SELECT name FROM datasets ORDER BY name").fetchall()
print(json.dumps(out))
"""


def test_a_full_disk_gives_one_line_and_keeps_the_workspace_whole(trained, tmp_path):
    prefix = _namespace_prefix()
    if not prefix:
        pytest.skip("no private mount namespace with a tmpfs here (needs unshare and root or user namespaces)")
    src = copy_of(trained, tmp_path / "w").parent
    write_ratings(src / "big.csv", users=3000, items=500, per_user=20)     # about 1 MB: will not fit
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    size = f"{(src / 'ws.db').stat().st_size // 1024 + 160}k"
    proc = subprocess.run([*prefix, sys.executable, "-c", SCRIPT, str(src), str(mnt), size], capture_output=True,
                          text=True, timeout=900, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr
    import json
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    imp = out["import"]
    assert imp["rc"] != 0 and "Traceback" not in imp["stderr"], imp["stderr"]
    line = [ln for ln in imp["stderr"].splitlines() if ln.startswith("Error:")][-1]
    assert f"no space left to write {mnt / 'ws.db'}" in line and "free some disk space" in line, line
    assert out["runs_ls"]["rc"] == 0, out["runs_ls"]["stderr"]
    assert out["integrity"] == "ok" and out["datasets"] == [["r"]]


WORKER_SCRIPT = r"""
import json, shutil, subprocess, sys, time, tomllib
from pathlib import Path
src, mnt, size = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], check=True)
shutil.copy(src / "ws.db", mnt / "ws.db")
from workbench.jobs import launcher, queue
from workbench.store import open_workspace
from workbench.engine.runner import create_run
with open_workspace(mnt / "ws.db") as ws:
    run_id = create_run(ws, tomllib.loads((src / "tiny.toml").read_text()))
    job = launcher.submit(ws, run_id, "cpu")        # the worker and its log are on the small disk too
deadline = time.monotonic() + 600
while time.monotonic() < deadline:
    with open_workspace(mnt / "ws.db") as ws:
        row = ws.db.execute("SELECT status, error FROM jobs WHERE id = ?", [job]).fetchone()
        if row[0] in queue.FINISHED:
            break
    if launcher._STARTED and all(p.poll() is not None for p in launcher._STARTED):
        break                                       # the worker is gone without finishing its job
    time.sleep(0.5)
for proc in launcher._STARTED:
    proc.wait(timeout=120)
with open_workspace(mnt / "ws.db") as ws:
    queue.reap_dead(ws)
    job_row = ws.db.execute("SELECT status, error FROM jobs WHERE id = ?", [job]).fetchone()
    run_row = ws.db.execute("SELECT status, error FROM runs WHERE id = ?", [run_id]).fetchone()
log = launcher.worker_log_path(mnt / "ws.db").read_text()
print(json.dumps({"job": list(job_row), "run": list(run_row), "log": log}))
"""


def test_a_worker_stopped_by_a_full_disk_leaves_its_cause_in_its_job_and_run(trained, tmp_path):
    prefix = _namespace_prefix()
    if not prefix:
        pytest.skip("no private mount namespace with a tmpfs here (needs unshare and root or user namespaces)")
    src = copy_of(trained, tmp_path / "w").parent
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    size = f"{(src / 'ws.db').stat().st_size // 1024 + 150}k"      # room for the run's rows, not its checkpoints
    proc = subprocess.run([*prefix, sys.executable, "-c", WORKER_SCRIPT, str(src), str(mnt), size],
                          capture_output=True, text=True, timeout=900, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr
    import json
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    (job_status, job_error), (run_status, run_error) = out["job"], out["run"]
    assert job_status == "failed" and run_status == "failed", out
    assert "Traceback" not in out["log"], out["log"]
    assert "no space left to write" in (job_error or "") or "no space left to write" in (run_error or ""), out
    assert "died" not in (job_error or ""), out
