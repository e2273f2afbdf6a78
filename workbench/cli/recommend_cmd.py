"""``workbench recommend --run ID (--user USER | --history RAW1,RAW2,...)``: top-K items from a trained run."""

from __future__ import annotations

import click

from workbench.cli.common import echo_json, fail, open_ws


def parse_history(text: str) -> list[str]:
    """``"RAW1,RAW2,..."`` -> raw item ids, oldest first (spaces around ids ignored, empty entries an error)."""
    from workbench.engine.inspection import parse_raw_items
    try:
        return parse_raw_items(text)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--history") from None


def load_query(ws, run_id: int, user: str | None, history: str | None, device: str):
    """(Recommender of the run, the query for --user or --history, the raw history or None);
    a bad argument, run or id ends the command with a one-line error."""
    if (user is None) == (history is None):
        fail("give exactly one of --user USER and --history RAW1,RAW2,...")
    raw_history = parse_history(history) if history is not None else None
    from workbench.engine.inference import Recommender
    try:
        rec = Recommender.load(ws, run_id, device=device)
        if raw_history is not None:
            return rec, rec.query_history(rec.items(raw_history)), raw_history
        return rec, rec.query_user(rec.user(user)), None
    except (KeyError, FileNotFoundError, ValueError) as e:
        fail(e.args[0] if e.args else str(e))


@click.command()
@click.option("--run", "run_id", type=int, required=True, help="Run id (see `workbench runs ls`).")
@click.option("--user", default=None, help="Raw user id as in the imported data.")
@click.option("--history", default=None, metavar="RAW1,RAW2,...",
              help="A person the dataset never saw: their raw item ids, oldest first.")
@click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def recommend(ctx, run_id, user, history, k, device, as_json):
    """Recommend the next K items for USER (their whole history) or for a new person's --history
    (seen items excluded when the run's evaluation excludes them)."""
    with open_ws(ctx) as ws:
        rec, query, raw_history = load_query(ws, run_id, user, history, device)
    recs = rec.recommend(query, k)
    who = f"user {user}" if user is not None else f"a new user ({len(raw_history)} items)"
    if as_json:
        echo_json({"user": user, **({"history": raw_history} if raw_history is not None else {}), **recs})
        return
    click.echo(f"top {k} for {who} (run {run_id}, history {recs['history_length']} events):")
    for i, r in enumerate(recs["items"], 1):
        click.echo(f"{i:>3}. {r['title'] or r['item']}  [{r['item']}]  {r['score']:.4f}")
