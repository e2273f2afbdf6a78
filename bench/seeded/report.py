"""Markdown table of a seeded ablation: per group mean +- 95% CI over seeds, paired p-values vs the first group.

    .venv/bin/python bench/seeded/report.py /tmp/wb-seeded.db

Groups are matched by experiment name (ml100k-id first). The paired test is
workbench.stats.compare on the seed-averaged per-user test values, Holm over every
(metric, view) pair.
"""

from __future__ import annotations

import sys

from workbench.stats.compare import compare
from workbench.store import open_workspace
from workbench.store.run_groups import group_runs, list_groups

METRICS = ["NDCG@10", "HR@10"]


def main(path: str) -> None:
    with open_workspace(path) as ws:
        groups = sorted(list_groups(ws, kind="seeds"), key=lambda g: (not g["name"].startswith("ml100k-id "), g["id"]))
        refs = [f"g{g['id']}" for g in groups]
        result = compare(ws, refs, metrics=METRICS)
        epochs = {g["id"]: [r["best_epoch"] for r in group_runs(ws, g["id"]) if r["status"] == "completed"]
                  for g in groups}
    print("| row | runs | best epochs | test NDCG@10 mean +- 95% CI | test HR@10 mean +- 95% CI | "
          "paired diff NDCG@10 [95% CI] | p (t / Wilcoxon), Holm t | paired diff HR@10 [95% CI] | "
          "p (t / Wilcoxon), Holm t |")
    print("|---|---|---|---|---|---|---|---|---|")
    entries = [result["baseline"], *result["compared"]]
    for g, e in zip(groups, entries):
        seeds = e["seeds"]
        cells = []
        for m in METRICS:
            s = seeds[m]
            cells.append(f"{s['mean']:.4f} +- {s['ci_high'] - s['mean']:.4f}" if s["ci_high"] is not None
                         else f"{s['mean']:.4f}")
        paired = []
        for m in METRICS:
            row = next((r for r in result["rows"] if r["compared"] == e["ref"] and r["metric"] == m), None)
            if row is None:
                paired += ["-", "-"]
                continue
            star = " *" if row["significant"] else ""
            paired += [f"{row['diff']:+.4f} [{row['ci_low']:+.4f}, {row['ci_high']:+.4f}]{star}",
                       f"{row['t_p']:.3f} / {row['wilcoxon_p']:.3f}, {row['t_p_holm']:.3f}"]
        print(f"| {g['name']} | {len(e['runs'])} | {', '.join(map(str, epochs[g['id']]))} | {' | '.join(cells)} | "
              f"{' | '.join(paired)} |")
    print(f"\n{result['num_users']} test users; Holm over {result['family_size']} tests; * = Holm-adjusted "
          f"paired t p < {result['alpha']}.")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/wb-seeded.db")
