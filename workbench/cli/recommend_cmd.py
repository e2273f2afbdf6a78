"""``workbench recommend --run ID --user USER``: top-K items for a user from a trained run."""

from __future__ import annotations

import click

from workbench.cli.common import echo_json, fail, open_ws


@click.command()
@click.option("--run", "run_id", type=int, required=True, help="Run id (see `workbench runs ls`).")
@click.option("--user", required=True, help="Raw user id as in the imported data.")
@click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def recommend(ctx, run_id, user, k, device, as_json):
    """Recommend the next K items for USER (their whole history; seen items excluded)."""
    from workbench.engine.inference import recommend_for_user
    with open_ws(ctx) as ws:
        try:
            recs = recommend_for_user(ws, run_id, user, k=k, device=device)
        except (KeyError, FileNotFoundError, ValueError) as e:
            fail(e.args[0] if e.args else str(e))
    if as_json:
        echo_json(recs)
        return
    click.echo(f"top {k} for user {user} (run {run_id}, history {recs['history_length']} events):")
    for i, r in enumerate(recs["items"], 1):
        click.echo(f"{i:>3}. {r['title'] or r['item']}  [{r['item']}]  {r['score']:.4f}")
