"""``python -m workbench.tune.worker --workspace PATH --group N``: run a stored study detached.

Started by ``workbench tune ... --background``; its output goes to ``NAME.files/tune-gN.log``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path


def log_path(ws_path: Path, group_id: int) -> Path:
    from workbench.store.workspace import files_dir_for
    folder = files_dir_for(Path(ws_path).resolve())
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"tune-g{group_id}.log"


def start_detached(ws_path: Path, group_id: int) -> subprocess.Popen:
    ws_path = Path(ws_path).resolve()
    log = open(log_path(ws_path, group_id), "ab")
    try:
        return subprocess.Popen([sys.executable, "-m", "workbench.tune.worker", "--workspace", str(ws_path),
                                 "--group", str(group_id)], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True, close_fds=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    finally:
        log.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workbench.tune.worker")
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--group", type=int, required=True)
    args = parser.parse_args(argv)
    from workbench.tune.study import run_study

    def show(row: dict) -> None:
        print(f"trial {row['number']}: {row['state']} value {row['value']} run {row['run_id']} {row['params']}",
              flush=True)

    report = run_study(args.workspace, args.group, on_trial=show)
    print(f"study g{args.group}: {report['status']}; best {report['best']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
