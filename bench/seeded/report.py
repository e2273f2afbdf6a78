"""Markdown table of a seeded ablation: per group mean +- 95% CI over seeds, paired p-values vs the ID-only group.

    .venv/bin/python bench/seeded/report.py /tmp/wb-seeded.db
    .venv/bin/python bench/seeded/report.py /tmp/wb-tuned.db g8 g7      # these groups, the first the baseline

The baseline is the seeds group whose experiment name ends in "-id" (ml100k-id, amazon-id); the
other seeds groups follow in creation order. Given group ids, only those, the first as the baseline. The paired test is workbench.stats.compare on the
seed-averaged per-user test values, Holm over every (metric, view) pair: it asks whether the
seed-averaged models differ on these users, not whether the difference exceeds seed-to-seed variation.
That second question is the last column: Welch's t-test on the runs' test metrics (one value per seed,
scipy.stats.ttest_ind, equal_var=False), not Holm-adjusted. "s/epoch" is the mean recorded wall time of
an epoch (training + validation) over the group's completed runs.
"""

from __future__ import annotations

import sys

from scipy import stats

from workbench.stats.compare import compare
from workbench.store import open_workspace
from workbench.store.runs import epochs as run_epochs
from workbench.store.run_groups import group_runs, list_groups

METRICS = ["NDCG@10", "HR@10"]


def main(path: str, chosen: list[str]) -> None:
    with open_workspace(path) as ws:
        groups = sorted(list_groups(ws, kind="seeds"), key=lambda g: (not g["name"].rsplit(" x", 1)[0].endswith("-id"),
                                                                      g["id"]))
        if chosen:
            by_id = {g["id"]: g for g in groups}
            groups = [by_id[int(c.lstrip("g"))] for c in chosen]
        refs = [f"g{g['id']}" for g in groups]
        result = compare(ws, refs, metrics=METRICS)
        done = {g["id"]: [r for r in group_runs(ws, g["id"]) if r["status"] == "completed"] for g in groups}
        epochs = {k: [r["best_epoch"] for r in runs] for k, runs in done.items()}
        walls = {k: [e["wall_time"] for r in runs for e in run_epochs(ws, r["id"]) if e["wall_time"]]
                 for k, runs in done.items()}
    print("| row | runs | best epochs | s/epoch | test NDCG@10 mean +- 95% CI | test HR@10 mean +- 95% CI | "
          "paired diff NDCG@10 [95% CI] | p (t / Wilcoxon), Holm t | paired diff HR@10 [95% CI] | "
          "p (t / Wilcoxon), Holm t | p over seeds (Welch), NDCG@10 / HR@10 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    entries = [result["baseline"], *result["compared"]]
    per_seed = {g["id"]: {m: [r["test_metrics"][m] for r in done[g["id"]]] for m in METRICS} for g in groups}
    base_seeds = per_seed[groups[0]["id"]]
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
        welch = "-" if g is groups[0] else " / ".join(
            f"{stats.ttest_ind(per_seed[g['id']][m], base_seeds[m], equal_var=False).pvalue:.3f}" for m in METRICS)
        wall = walls[g["id"]]
        sec = f"{sum(wall) / len(wall):.0f}" if wall else "-"
        print(f"| {g['name'].rsplit(' x', 1)[0]} | {len(e['runs'])} | {', '.join(map(str, epochs[g['id']]))} | {sec} | "
              f"{' | '.join(cells)} | "
              f"{' | '.join(paired)} | {welch} |")
    print(f"\n{result['num_users']} test users; Holm over {result['family_size']} tests; * = Holm-adjusted "
          f"paired t p < {result['alpha']}.")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/wb-seeded.db", sys.argv[2:])
