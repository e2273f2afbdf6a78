#!/usr/bin/env bash
# Runs the linter, then the test suite. A lint failure fails the run (pytest does not start);
# pytest's exit code 5 ("no tests collected") is a failure here too,
# because a suite that silently collects nothing must not look green.
set -u
VENV=${1:-.venv}
ROOT="$(dirname "$0")/.."
if ! "$VENV/bin/ruff" check "$ROOT"; then
  echo "run-tests: ruff check failed (rules in pyproject.toml [tool.ruff]); fix the lines above" >&2
  exit 1
fi
EXTRA=()
# Without ../shared/datasets the real-data tests skip, and so do the TUI snapshots that need a
# dataset: their stored snapshots are then "unused", which syrupy would count as a failure.
if [ ! -d "$ROOT/../shared/datasets" ]; then
  echo "run-tests: ../shared/datasets not found: real-data tests skip, unused snapshots only warn" >&2
  EXTRA=(--snapshot-warn-unused)
fi
"$VENV/bin/python" -m pytest -q -p no:cacheprovider "${EXTRA[@]}" "${@:2}"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "run-tests: pytest collected no tests; treating as failure" >&2
  exit 1
fi
exit "$rc"
