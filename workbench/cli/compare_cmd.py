"""``workbench runs compare`` (side by side + paired significance) and ``workbench runs groups / group``."""

from __future__ import annotations

import click

from workbench.cli.common import echo_json, fail, open_ws, parse_group_id

KEY_METRICS = ("NDCG@10", "HR@10", "MRR@10")


def _side_by_side(ws, refs: list[str]) -> list[dict]:
    """Each entry's test metrics (a group: the mean over its completed runs)."""
    from workbench.stats.compare import PairingError, parse_entry
    from workbench.stats.summary import summarize_metrics
    from workbench.store.run_groups import get_group, group_runs, run_facts
    out = []
    for ref in refs:
        try:
            kind, ident = parse_entry(ref)
        except PairingError as e:
            fail(str(e))
        if kind == "run":
            facts = run_facts(ws, ident)
            if facts is None:
                fail(f"no run {ident} in {ws.path}")
            out.append({"id": ident, "ref": str(ident), "name": facts["name"], "status": facts["status"],
                        "dataset": facts["dataset"], "best_epoch": facts["best_epoch"],
                        "metrics": facts["test_metrics"]})
        else:
            group = get_group(ws, ident)
            if group is None:
                fail(f"no group {ident} in {ws.path}")
            members = [r for r in group_runs(ws, ident) if r["status"] == "completed"]
            summary = summarize_metrics([r["test_metrics"] or {} for r in members])
            out.append({"id": None, "group": ident, "ref": f"g{ident}", "name": group["name"],
                        "status": group["status"], "runs": [r["id"] for r in members],
                        "metrics": {k: s.mean for k, s in summary.items()}})
    names: list[str] = []
    for r in out:
        names.extend(k for k in r["metrics"] if "@" in k and k not in names)
    for r in out:
        r["metrics"] = {k: r["metrics"].get(k) for k in names}
    return out


def _fmt_p(p) -> str:
    if p is None:
        return "-"
    return f"{p:.1e}" if p < 1e-3 else f"{p:.3f}"


def print_paired(result: dict) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table
    console = Console()
    base = result["baseline"]
    holm_key = "t_p_holm" if result["test"] == "t" else "wilcoxon_p_holm"
    for other in result["compared"]:
        rows = [r for r in result["rows"] if r["compared"] == other["ref"]]
        table = Table("metric", f"{base['label']}", f"{other['label']}", "diff", "95% CI (bootstrap)",
                      "p (t)", "p (Wilcoxon)", f"Holm p ({result['test']})", "",
                      title=f"{other['label']} {escape(repr(other['name']))} vs baseline {base['label']} "
                            f"{escape(repr(base['name']))} "
                            f"({result['split']}, {rows[0]['n'] if rows else 0} users)")
        for r in rows:
            if r["diff"] is None:
                table.add_row(r["metric"], *["-"] * 8)
                continue
            mark = ""
            if r["significant"]:
                mark = "[green]* better[/]" if r["diff"] > 0 else "[red]* worse[/]"
            table.add_row(r["metric"], f"{r['mean_a']:.4f}", f"{r['mean_b']:.4f}", f"{r['diff']:+.4f}",
                          f"[{r['ci_low']:+.4f}, {r['ci_high']:+.4f}]", _fmt_p(r["t_p"]), _fmt_p(r["wilcoxon_p"]),
                          _fmt_p(r[holm_key]), mark)
        console.print(table)
    console.print(f"* significant at alpha {result['alpha']} after Holm correction over {result['family_size']} "
                  f"comparisons ({len(result['metrics'])} metrics x {len(result['compared'])} compared); "
                  f"mean differences are compared minus baseline.")
    for e in [base, *result["compared"]]:
        if e.get("seeds"):
            shown = "  ".join(f"{k} {s['mean']:.4f} +- {(s['ci_high'] - s['mean']) if s['ci_high'] is not None else 0:.4f}"
                              for k, s in e["seeds"].items() if k in KEY_METRICS)
            console.print(f"{e['label']} ({len(e['runs'])} runs, mean +- 95% CI half-width): {shown}")


@click.command("compare")
@click.argument("refs", nargs=-1, required=True)
@click.option("--metric", "-m", "metrics", multiple=True,
              help="Test only these metrics (repeatable; default: every per-user metric the runs share).")
@click.option("--split", type=click.Choice(["test", "valid"]), default="test", show_default=True)
@click.option("--test", "test", type=click.Choice(["t", "wilcoxon"]), default="t", show_default=True,
              help="Which Holm-adjusted p-value marks a difference significant.")
@click.option("--alpha", type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True), default=0.05,
              show_default=True)
@click.option("--bootstrap", type=click.IntRange(min=100), default=2000, show_default=True,
              help="Bootstrap resamples for the confidence interval.")
@click.option("--no-stats", is_flag=True, help="Only the side-by-side table (runs need not be pairable).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def compare(ctx, refs, metrics, split, test, alpha, bootstrap, no_stats, as_json):
    """Compare runs (ids) or seed groups (gN): side by side, and paired user by user against the first.

    Per metric: the mean difference with a bootstrap 95% CI, the paired t-test and Wilcoxon
    signed-rank p-values, Holm-corrected over all metrics and runs compared. Runs evaluated on a
    different dataset, split or protocol are refused.
    """
    from workbench.stats.compare import PairingError
    from workbench.stats.compare import compare as paired
    with open_ws(ctx) as ws:
        side = _side_by_side(ws, list(refs))
        result = None
        if not no_stats and len(refs) > 1:
            try:
                result = paired(ws, list(refs), split=split, metrics=list(metrics) or None, alpha=alpha,
                                test=test, n_boot=bootstrap)
            except PairingError as e:
                fail(f"{e} (--no-stats shows the side-by-side table only)")
    if as_json:
        echo_json({"runs": side, "paired": result})
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table
    table = Table("metric", *(escape(f"{r['ref']} {r['name']}") for r in side))
    for k in (side[0]["metrics"] if side else {}):
        vals = [r["metrics"][k] for r in side]
        best = max((v for v in vals if v is not None), default=None)
        table.add_row(k, *("" if v is None else (f"[bold]{v:.4f}[/]" if v == best and len(side) > 1 else f"{v:.4f}")
                           for v in vals))
    Console().print(table)
    if result is not None:
        print_paired(result)


@click.command("groups")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def groups(ctx, as_json):
    """List run groups (repeated seeds, tuning studies)."""
    from workbench.engine.seeds import group_status
    from workbench.jobs.queue import reap_dead
    from workbench.store.run_groups import list_groups
    with open_ws(ctx) as ws:
        reap_dead(ws)   # a group whose process is gone is marked failed first
        rows = list_groups(ws)
    for g in rows:
        statuses = (g.pop("run_statuses") or "").split(",")
        if g["kind"] == "seeds" and g["num_runs"]:
            g["status"] = group_status(statuses)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no groups yet (`workbench run EXP.toml --seeds 3` or `workbench tune EXP.toml --trials N`)")
        return
    for g in rows:
        click.echo(f"g{g['id']}  {g['kind']:<5}  {g['status']:<9}  {g['num_runs']} runs  {g['name']}")


def group_view(ws, group_id: int) -> dict:
    from workbench.engine.seeds import group_view as view
    out = view(ws, group_id)
    if out is None:
        fail(f"no group {group_id} in {ws.path}")
    return out


@click.command("group")
@click.argument("group_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def group(ctx, group_id, as_json):
    """A group's runs and, per test metric, mean, std and 95% CI over its completed runs."""
    from workbench.jobs.queue import reap_dead
    ident = parse_group_id(group_id)
    with open_ws(ctx) as ws:
        reap_dead(ws)
        view = group_view(ws, ident)
    if as_json:
        echo_json(view)
        return
    done = sum(r["status"] == "completed" for r in view["runs"])
    click.echo(f"group g{view['id']} ({view['kind']}) {view['name']!r}: {view['status']}, "
               f"{done}/{len(view['runs'])} runs completed")
    for r in view["runs"]:
        m = r["test_metrics"] or {}
        click.echo(f"  run {r['id']:>4}  seed {r['seed']}  {r['status']:<9}  " +
                   "  ".join(f"{k} {m[k]:.4f}" for k in KEY_METRICS if k in m))
    for k, s in view["summary"].items():
        if "@" not in k:
            continue
        if s["std"] is None:
            click.echo(f"  {k:<16} {s['mean']:.4f} (n={s['n']})")
        else:
            click.echo(f"  {k:<16} {s['mean']:.4f} +- {s['std']:.4f} (std), 95% CI [{s['ci_low']:.4f}, "
                       f"{s['ci_high']:.4f}] (n={s['n']})")
