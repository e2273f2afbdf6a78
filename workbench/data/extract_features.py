"""One extraction step, item files -> the precomputed view's vectors, shared by ``workbench data features``
and the app's Datasets screen (``f``): find the files, check them against a dataset's raw item ids,
compute audio or image vectors, write ``PREFIX.npy`` + ``PREFIX.ids``."""

from __future__ import annotations

from workbench.data.item_files import (
    AUDIO_SUFFIXES, IMAGE_SUFFIXES, ItemFilesError, coverage, find_item_files, write_vectors,
)


def extract_features(kind: str, source, out, *, raw_ids: list[str] | None = None, dataset: str | None = None,
                     audio=None, image=None, progress=None) -> dict:
    """Vectors of the ``kind`` ("audio" | "image") files in ``source`` (a folder of files named by raw item id,
    or a manifest) written to ``out`` (prefix). ``raw_ids`` (a dataset's, index 0 padding; its name in
    ``dataset``): how the files line up with them, and ItemFilesError when none does (nothing written).
    ``audio`` / ``image``: AudioOptions / ImageOptions. -> {"kind", "items", "dim", "path", "ids_path",
    and with raw ids "dataset", "coverage"}. Raises ItemFilesError or ValueError with a one-line message."""
    if kind not in ("audio", "image"):
        raise ValueError(f"kind: {kind!r} - choose audio or image")
    files = find_item_files(source, AUDIO_SUFFIXES if kind == "audio" else IMAGE_SUFFIXES)
    report = None
    if raw_ids is not None:
        report = coverage([i for i, _ in files], raw_ids)
        if report["with_vector"] == 0:
            raise ItemFilesError(f"none of the {len(files)} files in {source} is named by a raw item id of dataset "
                                 f"{dataset!r} (e.g. {files[0][0]!r}); nothing written")
    if kind == "audio":
        from workbench.data.audio_features import AudioOptions, audio_vectors
        matrix = audio_vectors(files, audio or AudioOptions(), progress=progress)
    else:
        from workbench.data.image_features import ImageOptions, image_vectors
        matrix = image_vectors(files, image or ImageOptions(), progress=progress)
    npy, ids = write_vectors(out, [i for i, _ in files], matrix)
    return {"kind": kind, "items": len(files), "dim": int(matrix.shape[1]), "path": str(npy), "ids_path": str(ids),
            **({"dataset": dataset, "coverage": report} if report is not None else {})}
