#!/usr/bin/env bash
# Seeded ml-100k ablation: each row 3 seeds as one group, then every view group paired with ID-only.
#   bash bench/seeded/run.sh /tmp/wb-seeded.db          (three streams of runs at once)
set -euo pipefail
WS=${1:-/tmp/wb-seeded.db}
SEEDS=${SEEDS:-3}
WB="$(dirname "$0")/../../.venv/bin/workbench"
D="$(dirname "$0")"
[ -f "$WS" ] || "$WB" workspace new "$WS"
"$WB" -w "$WS" data ls --json | grep -q '"ml-100k"' || "$WB" -w "$WS" data import "$D/../../../shared/datasets/ml-100k" --name ml-100k
( for row in id temporal; do "$WB" -w "$WS" run "$D/ml100k_$row.toml" --seeds "$SEEDS" --json > "$WS.$row.json"; done ) &
( for row in vae gru; do "$WB" -w "$WS" run "$D/ml100k_$row.toml" --seeds "$SEEDS" --json > "$WS.$row.json"; done ) &
( for row in user_context; do "$WB" -w "$WS" run "$D/ml100k_$row.toml" --seeds "$SEEDS" --json > "$WS.$row.json"; done ) &
wait
"$(dirname "$0")/../../.venv/bin/python" "$D/report.py" "$WS"
