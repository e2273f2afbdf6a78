"""``workbench explain --run ID (--user USER | --history ...) [--item RAW]``: why a run recommends an item."""

from __future__ import annotations

import click

from workbench.cli.common import echo_json, fail, open_ws


@click.command()
@click.option("--run", "run_id", type=int, required=True, help="Run id (see `workbench runs ls`).")
@click.option("--user", default=None, help="Raw user id as in the imported data.")
@click.option("--history", default=None, metavar="RAW1,RAW2,...",
              help="A person the dataset never saw: their raw item ids, oldest first.")
@click.option("--item", default=None, help="Raw item id to explain (default: the top recommendation).")
@click.option("--method", type=click.Choice(["gradient_x_input", "integrated_gradients", "occlusion"]),
              default="gradient_x_input", show_default=True, help="How history events are attributed.")
@click.option("--baseline", type=click.Choice(["mean", "zero"]), default="mean", show_default=True,
              help="What a view's state is replaced with to measure its contribution.")
@click.option("--events", "top_events", type=click.IntRange(min=1), default=10, show_default=True,
              help="How many history events to show (largest attributions).")
@click.option("--device", default="cpu", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def explain(ctx, run_id, user, history, item, method, baseline, top_events, device, as_json):
    """Explain a recommendation: each view's measured contribution through the fusion, the history
    events that drove the item's score, and the history items nearest to it."""
    from workbench.cli.recommend_cmd import load_query
    from workbench.engine.explain import Explainer
    with open_ws(ctx) as ws:
        rec, query, _ = load_query(ws, run_id, user, history, device)
    try:
        index = int(rec.items([item])[0]) if item is not None else None
        out = Explainer(rec).explain(query, index, method=method, baseline=baseline, top_events=top_events)
    except (KeyError, ValueError) as e:
        fail(e.args[0] if e.args else str(e))
    out = {"run_id": run_id, "user": user, **out}
    if as_json:
        echo_json(out)
        return
    it = out["item"]
    rank = f"rank {it['rank']}" if it["rank"] is not None else "in the history (not ranked)"
    who = f"user {user}" if user is not None else "the given history"
    click.echo(f"{it['title'] or it['item']} [{it['item']}] for {who} (run {run_id}): score {it['score']:.4f}, {rank}")
    if out["views"]:
        click.echo(f"views (score change when the view's state is replaced by its {baseline} baseline):")
        for v in out["views"]:
            weight = f"  fusion weight {v['fusion_weight']:.2f}" if v["fusion_weight"] is not None else ""
            click.echo(f"  {v['view']:<14} {v['contribution']:+.4f}  (rank without it {v['rank_without']}){weight}")
    click.echo(f"history events that drove the score ({method}, {out['window']} of {out['history_length']} "
               "events in the model's window):")
    for e in out["events"]:
        click.echo(f"  {e['attribution']:+.4f}  #{e['position']:<4} {e['title'] or e['item']}  [{e['item']}]")
    if out["nearest"]:
        click.echo("nearest history items:")
        for n in out["nearest"]:
            click.echo(f"  {n['similarity']:+.3f}  {n['title'] or n['raw_id']}  [{n['raw_id']}]")
