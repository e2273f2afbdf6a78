"""``workbench data``: import, list, describe and remove datasets."""

from __future__ import annotations

import click

from workbench.cli.common import echo_json, fail, open_ws


@click.group()
def data():
    """Import and inspect datasets in the workspace."""


def _kv(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for v in values:
        key, sep, val = v.partition("=")
        if not sep or not key.strip():
            fail(f"--option {v!r}: expected key=value")
        out[key.strip()] = val
    return out


@data.command("import")
@click.argument("path", type=click.Path(exists=True))
@click.option("--format", "fmt", default="auto", show_default=True,
              help="Reader name (see `workbench plugins list`), or auto-detect.")
@click.option("--name", default=None, help="Dataset name (default: from the file or folder name).")
@click.option("--replace", is_flag=True, help="Replace an existing dataset with this name.")
@click.option("--force", is_flag=True, help="With --replace: replace it even when runs were trained on different "
              "data under this name (they keep their metrics but can no longer recommend or resume).")
@click.option("--map", "mapping", default=None, help="Generic CSV column map: user=col,item=col,time=col,...")
@click.option("--delimiter", default=None, help="Generic CSV delimiter (auto, ',', tab, ';', '|', space).")
@click.option("--item-text", type=click.Path(exists=True, dir_okay=False), default=None,
              help="SASRec format: TSV of item text (header; first column = item id).")
@click.option("--option", "-o", "reader_kv", multiple=True, help="Any reader option as key=value.")
@click.option("--min-rating", type=float, default=None, help="Keep interactions with rating >= this.")
@click.option("--dedupe", type=click.Choice(["none", "first", "last"]), default="none", show_default=True,
              help="Repeated (user, item) pairs.")
@click.option("--kcore-users", type=click.IntRange(min=0), default=0, help="Iterative k-core on users.")
@click.option("--kcore-items", type=click.IntRange(min=0), default=0, help="Iterative k-core on items.")
@click.option("--split", type=click.Choice(["loo", "temporal"]), default="loo", show_default=True,
              help="Default split stored with the dataset.")
@click.option("--valid-frac", type=float, default=0.1, show_default=True, help="Temporal split validation fraction.")
@click.option("--test-frac", type=float, default=0.1, show_default=True, help="Temporal split test fraction.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def import_cmd(ctx, path, fmt, name, replace, force, mapping, delimiter, item_text, reader_kv, min_rating, dedupe,
               kcore_users, kcore_items, split, valid_frac, test_frac, as_json):
    """Import PATH (a file or a dataset folder) as a dataset: all rows or nothing.

    \b
    Preprocessing, in order: --min-rating, chronological order per user (ties keep
    file order), --dedupe, iterative k-core. Users and items are then numbered 1..n
    in sorted raw-id order (numeric when all ids are integers); 0 is padding.
    Everything is parsed before the workspace is touched; on any error it is unchanged.
    """
    import time
    from pathlib import Path

    from workbench.data.importer import (
        DatasetExists, dataset_exists, default_name, import_raw, prepare, preprocess_options, read_path,
    )
    from workbench.kinds import ReaderError
    from workbench.options import ConfigError
    from workbench.store import resolve_workspace_path

    started = time.perf_counter()
    reader_options = _kv(reader_kv)
    for key, value in (("map", mapping), ("delimiter", delimiter), ("item_text", item_text)):
        if value is not None:
            reader_options[key] = value
    name = name or default_name(Path(path))
    ws_path = resolve_workspace_path(ctx.find_root().obj.get("workspace"))
    try:
        opts = preprocess_options(dict(min_rating=min_rating, dedupe=dedupe, kcore_users=kcore_users,
                                       kcore_items=kcore_items, split=split, valid_frac=valid_frac,
                                       test_frac=test_frac))
        if ws_path.exists() and not replace:  # fail fast, before the (long) parse
            ws = open_ws(ctx)
            try:
                if dataset_exists(ws, name):
                    raise DatasetExists(f"a dataset named {name!r} already exists in {ws.path} (use --replace)")
            finally:
                ws.close()
        # Parse everything before creating or writing the workspace: a failed import leaves no trace.
        fmt, raw, ropts = read_path(path, fmt, reader_options)
        processed = prepare(raw, opts)
        ws = open_ws(ctx, create=True)
        try:
            summary = import_raw(ws, raw, name=name, fmt=fmt, preprocess_opts=opts, replace=replace,
                                 extra_options={"reader_options": ropts}, started=started,
                                 processed=processed, force=force)
        finally:
            ws.close()
    except ReaderError as e:
        fail(str(e) + ("".join(f"\n  {line}" for line in e.lines()) if len(e.errors) > 1 else ""))
    except (ConfigError, DatasetExists, ValueError) as e:
        fail(str(e))
    if as_json:
        echo_json(summary.as_dict())
        return
    click.echo(f"imported {summary.name!r} ({summary.format}) into {ws_path}: {summary.n_users:,} users, "
               f"{summary.n_items:,} items, {summary.n_interactions:,} interactions"
               f"{'' if summary.has_timestamps else ' (no timestamps: order only)'} in {summary.seconds:.1f} s")
    if summary.removed:
        click.echo("  removed by preprocessing: " + ", ".join(f"{k} {v:,}" for k, v in summary.removed.items()))


@data.command("generate")
@click.option("--events", type=click.IntRange(min=1), required=True, help="Number of events (rows).")
@click.option("--users", type=click.IntRange(min=1), required=True, help="Number of users (each gets >= 1 event).")
@click.option("--items", type=click.IntRange(min=2), required=True, help="Number of items.")
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed (same seed, same file).")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="CSV file to write (default: synthetic-<events>.csv in the current directory).")
def generate_cmd(events, users, items, seed, out):
    """Write a synthetic behaviour log (CSV) at a real shape, for scale tests.

    \b
    The demo generator's behaviour model at any size: power-law popularity, drifting
    tastes, series, view -> click -> cart -> purchase funnels, sessions in time.
    Columns user_id,item_id,timestamp,action; import it with `workbench data import FILE`.
    Memory stays bounded (users are generated in chunks).
    """
    import time

    from workbench.data.synthetic import SyntheticSpec, write_csv

    spec = SyntheticSpec(events=events, users=users, items=items, seed=seed)
    try:
        spec.check()
    except ValueError as e:
        fail(str(e))
    out = out or f"synthetic-{events}.csv"
    started = time.perf_counter()
    try:
        n = write_csv(spec, out)
    except OSError as e:
        fail(f"cannot write {out}: {e}")
    click.echo(f"wrote {n:,} events ({users:,} users, {items:,} items) to {out} "
               f"in {time.perf_counter() - started:.1f} s")


@data.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def ls_cmd(ctx, as_json):
    """List the datasets in the workspace."""
    from workbench.data.stats import list_datasets

    ws = open_ws(ctx)
    try:
        rows = list_datasets(ws)
    finally:
        ws.close()
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no datasets (import one with `workbench data import PATH`)")
        return
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        click.echo(f"{r['name']:<{width}}  {r['format']:<15} users {r['n_users']:>8,}  items {r['n_items']:>8,}  "
                   f"interactions {r['n_interactions']:>10,}  {'timestamps' if r['has_timestamps'] else 'order only'}")


@data.command("stats")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def stats_cmd(ctx, name, as_json):
    """Statistics of dataset NAME: counts, time span, sequence lengths, sparsity, actions."""
    from workbench.data.dataset import DatasetNotFound
    from workbench.data.stats import dataset_stats, format_stats

    ws = open_ws(ctx)
    try:
        s = dataset_stats(ws, name)
    except DatasetNotFound as e:
        fail(e.args[0])
    finally:
        ws.close()
    if as_json:
        echo_json(s)
    else:
        click.echo(format_stats(s))


@data.command("rm")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Remove it even when runs were trained on it (they keep their metrics "
              "but can no longer recommend or resume).")
@click.pass_context
def rm_cmd(ctx, name, yes, force):
    """Remove dataset NAME and its rows (refused while runs were trained on it, unless --force)."""
    from workbench.data.importer import dataset_exists, remove_dataset
    from workbench.store.datasets import DatasetInUse

    ws = open_ws(ctx)
    try:
        if not dataset_exists(ws, name):
            fail(f"no dataset named {name!r} in {ws.path}")
        if not yes and not click.confirm(f"remove dataset {name!r} from {ws.path}?"):
            fail("not removed", code=1)
        remove_dataset(ws, name, force=force)
    except DatasetInUse as e:
        fail(str(e))
    finally:
        ws.close()
    click.echo(f"removed dataset {name!r}")


from workbench.cli.features_cmd import features  # noqa: E402 - `workbench data features` (item files -> vectors)

data.add_command(features)
