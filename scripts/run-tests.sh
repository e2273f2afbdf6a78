#!/usr/bin/env bash
# Runs the test suite; pytest's exit code 5 ("no tests collected") is a failure here,
# because a suite that silently collects nothing must not look green.
set -u
VENV=${1:-.venv}
"$VENV/bin/python" -m pytest -q -p no:cacheprovider "${@:2}"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "run-tests: pytest collected no tests; treating as failure" >&2
  exit 1
fi
exit "$rc"
