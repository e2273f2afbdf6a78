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
# Without ../shared/datasets only the tests about real datasets skip (each names the missing
# folder); everything else runs on the generated demo data or on files the tests write.
if [ ! -d "$ROOT/../shared/datasets" ]; then
  echo "run-tests: ../shared/datasets not found: the real-data tests skip" >&2
fi
# Two test processes (pytest-xdist), one file per process at a time so module fixtures are built once:
# much of the suite waits on worker processes, subprocess start-up and the app's timers, so the two
# cores stay busy. WORKBENCH_TEST_PROCESSES=0 runs everything in this process.
PROCESSES=${WORKBENCH_TEST_PROCESSES:-2}
PARALLEL=()
if [ "$PROCESSES" != "0" ]; then
  PARALLEL=(-n "$PROCESSES" --dist loadfile)
fi
"$VENV/bin/python" -m pytest -q -p no:cacheprovider "${PARALLEL[@]}" "${@:2}"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "run-tests: pytest collected no tests; treating as failure" >&2
  exit 1
fi
exit "$rc"
