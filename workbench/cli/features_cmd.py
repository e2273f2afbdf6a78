"""``workbench data features audio|image SOURCE --out PREFIX``: item files -> the precomputed view's vectors."""

from __future__ import annotations

import click

from workbench.cli.common import echo_json, fail, open_ws


@click.command("features")
@click.argument("kind", type=click.Choice(["audio", "image"]))
@click.argument("source", type=click.Path())
@click.option("--out", "-o", "out", required=True,
              help="Output prefix: writes PREFIX.npy (one row per item) and PREFIX.ids (their raw item ids).")
@click.option("--dataset", default=None, help="Report how the files line up with this dataset's raw item ids.")
@click.option("--model", default="", help="image: a local model file (torch.export .pt2, TorchScript, or a state dict with --arch).")
@click.option("--arch", default="", help="image: torchvision architecture of a state-dict --model (e.g. resnet50).")
@click.option("--image-size", type=click.IntRange(min=8), default=224, show_default=True, help="image: input side.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True, help="image: batch size.")
@click.option("--device", default="auto", show_default=True, help="image: auto, cpu, cuda, cuda:N or mps.")
@click.option("--sample-rate", type=click.IntRange(min=1000), default=22050, show_default=True,
              help="audio: resample to this rate.")
@click.option("--n-mels", type=click.IntRange(min=1), default=64, show_default=True, help="audio: mel bands.")
@click.option("--n-mfcc", type=click.IntRange(min=1), default=20, show_default=True, help="audio: MFCCs.")
@click.option("--max-seconds", type=click.FloatRange(min=0), default=30.0, show_default=True,
              help="audio: only the first N seconds of each file (0 = all).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def features(ctx, kind, source, out, dataset, model, arch, image_size, batch_size, device, sample_rate, n_mels,
             n_mfcc, max_seconds, as_json):
    """Turn item files into vectors for the `precomputed` view.

    \b
    SOURCE is a folder whose files are named by raw item id (items/1234.wav is item "1234"),
    or a CSV/TSV manifest with the columns item_id and path.
    audio: log-mel and MFCC statistics (librosa's definitions): mean and std over time of each of --n-mels
           log-mel bands and --n-mfcc MFCCs.
    image: the output of a model you supply as a local file (nothing is downloaded): a
           torch.export program (.pt2), a TorchScript file, or a torchvision state dict with --arch.
    Then in an experiment:  [[views]] type = "precomputed"  path = "PREFIX.npy"  ids_path = "PREFIX.ids"
    """
    from workbench.data.extract_features import extract_features
    from workbench.data.item_files import ItemFilesError

    raw_ids = None
    if dataset is not None:
        from workbench.store.catalogue import item_catalogue
        ws = open_ws(ctx)
        try:
            raw_ids, _ = item_catalogue(ws, dataset)
        except KeyError as e:
            fail(e.args[0])
        finally:
            ws.close()
    from workbench.data.audio_features import AudioOptions
    from workbench.data.image_features import ImageOptions
    try:
        result = extract_features(kind, source, out, raw_ids=raw_ids, dataset=dataset,
                                  audio=AudioOptions(sample_rate=sample_rate, n_mels=n_mels, n_mfcc=n_mfcc,
                                                     max_seconds=max_seconds),
                                  image=ImageOptions(model=model, arch=arch, image_size=image_size,
                                                     batch_size=batch_size, device=device))
    except (ItemFilesError, ValueError) as e:
        fail(str(e))
    report, npy, ids = result.get("coverage"), result["path"], result["ids_path"]
    if as_json:
        echo_json(result)
        return
    click.echo(f"wrote {result['items']:,} {kind} vectors of {result['dim']} numbers to {npy} (ids: {ids})")
    if report is not None:
        click.echo(f"  dataset {dataset!r}: {report['with_vector']:,} of {report['items']:,} items have a vector; "
                   f"{report['n_files_not_in_dataset']:,} files name no item of it")
    click.echo(f'  use it: [[views]] type = "precomputed"  path = "{npy}"  ids_path = "{ids}"')
