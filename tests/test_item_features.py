"""`workbench data features`: audio and image files -> vectors aligned to raw item ids, read by the
precomputed view; clear errors without a model, with a bad manifest, or with no matching item."""

from __future__ import annotations

import json
import math
import struct
import wave
from pathlib import Path

import numpy as np
import torch

from workbench.data.dataset import load_dataset
from workbench.data.demo import DemoSpec, import_demo
from workbench.model.base import DataContext
from workbench.options import parse_options
from workbench.store import open_workspace
from workbench_plugins.views.precomputed import PrecomputedOptions
from workbench_plugins.views.precomputed_impl import load_item_matrix

RATE = 22050


def write_tone(path: Path, hz: float, seconds: float = 0.5) -> None:
    n = int(RATE * seconds)
    frames = b"".join(struct.pack("<h", int(12000 * math.sin(2 * math.pi * hz * k / RATE))) for k in range(n))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(frames)


def test_audio_vectors_line_up_with_the_file_names(tmp_path, run_workbench):
    folder = tmp_path / "audio"
    folder.mkdir()
    write_tone(folder / "a440.wav", 440)
    write_tone(folder / "b3000.wav", 3000)
    write_tone(folder / "c440.wav", 440)
    (folder / "notes.txt").write_text("not audio")
    out = tmp_path / "vec" / "audio"
    proc = run_workbench("data", "features", "audio", folder, "-o", out, "--json", check=True, timeout=300)
    result = json.loads(proc.stdout)
    assert result["items"] == 3 and result["dim"] == 2 * 64 + 2 * 20
    ids = Path(result["ids_path"]).read_text().splitlines()
    matrix = np.load(result["path"])
    assert ids == ["a440", "b3000", "c440"] and matrix.shape == (3, 168)
    assert np.allclose(matrix[0], matrix[2])                          # the same tone, the same vector
    band = matrix[:, :64].argmax(1)                                   # loudest mel band (mean log-mel)
    assert band[1] > band[0]                                          # 3000 Hz sits in a higher band than 440 Hz


class MeanColour(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


def test_image_vectors_come_from_the_given_torchscript_model_in_id_order(tmp_path, run_workbench):
    from PIL import Image
    folder = tmp_path / "img"
    folder.mkdir()
    colours = {"7": (255, 0, 0), "3": (0, 0, 255), "11": (0, 255, 0)}
    for item, rgb in colours.items():
        Image.new("RGB", (40, 30), rgb).save(folder / f"{item}.png")
    model = tmp_path / "mean_colour.pt2"             # a torch.export program with a dynamic batch dimension
    batch = torch.export.Dim("batch", min=1, max=64)
    torch.export.save(torch.export.export(MeanColour(), (torch.zeros(2, 3, 16, 16),), dynamic_shapes=({0: batch},)),
                      str(model))
    out = tmp_path / "images"
    proc = run_workbench("data", "features", "image", folder, "-o", out, "--model", model, "--image-size", "16",
                         "--device", "cpu", "--json", check=True, timeout=300)
    result = json.loads(proc.stdout)
    ids = Path(result["ids_path"]).read_text().splitlines()
    matrix = np.load(result["path"])
    assert ids == sorted(colours) and matrix.shape == (3, 3)
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    for row, item in zip(matrix, ids):
        expected = (np.array(colours[item]) / 255.0 - mean) / std     # standardised mean colour of a flat image
        assert np.allclose(row, expected, atol=1e-5), item


def test_image_features_without_a_model_fail_clearly_and_write_nothing(tmp_path, run_workbench):
    from PIL import Image
    folder = tmp_path / "img"
    folder.mkdir()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(folder / "1.png")
    proc = run_workbench("data", "features", "image", folder, "-o", tmp_path / "x")
    assert proc.returncode == 1 and "image features need a model file: --model PATH" in proc.stderr
    assert not list(tmp_path.glob("x.*"))
    proc = run_workbench("data", "features", "image", folder, "-o", tmp_path / "x", "--model", tmp_path / "none.pt")
    assert proc.returncode == 1 and "none.pt does not exist" in proc.stderr


def test_a_manifest_error_names_the_line_and_field(tmp_path, run_workbench):
    write_tone(tmp_path / "one.wav", 440)
    manifest = tmp_path / "items.csv"
    manifest.write_text("item_id,path\n10,one.wav\n11,missing.wav\n")
    proc = run_workbench("data", "features", "audio", manifest, "-o", tmp_path / "m")
    assert proc.returncode == 1 and "items.csv, line 3, field path" in proc.stderr and "missing.wav" in proc.stderr
    manifest.write_text("item,file\n10,one.wav\n")
    proc = run_workbench("data", "features", "audio", manifest, "-o", tmp_path / "m")
    assert proc.returncode == 1 and "line 1: the manifest header needs the columns item_id and path" in proc.stderr


def test_vectors_reach_the_precomputed_view_by_raw_item_id(tmp_path, run_workbench):
    ws_path = tmp_path / "ws.db"
    with open_workspace(ws_path, create=True) as ws:
        import_demo(ws, DemoSpec(users=50, items=40, sessions_per_user=3))
        ds = load_dataset(ws, "demo")
    folder = tmp_path / "audio"
    folder.mkdir()
    tones = {"3": 300, "17": 1200, "25": 4000, "nope": 800}
    for item, hz in tones.items():
        write_tone(folder / f"{item}.wav", hz, seconds=0.3)
    prefix = tmp_path / "demo_audio"
    proc = run_workbench("-w", ws_path, "data", "features", "audio", folder, "-o", prefix, "--dataset", "demo",
                         "--json", check=True, timeout=300)
    cov = json.loads(proc.stdout)["coverage"]
    assert cov["with_vector"] == 3 and cov["files_not_in_dataset"] == ["nope"] and cov["items"] == ds.n_items
    matrix = np.load(f"{prefix}.npy")
    ids = Path(f"{prefix}.ids").read_text().splitlines()
    options = parse_options(PrecomputedOptions, {"path": f"{prefix}.npy", "ids_path": f"{prefix}.ids"}, "views[0]")
    ctx = DataContext(num_items=ds.n_items, num_users=ds.n_users, max_len=10, item_raw_ids=ds.item_raw_ids)
    features, has = load_item_matrix(options, ctx)
    for item in range(1, ds.n_items + 1):
        raw = ds.item_raw_ids[item]
        assert bool(has[item]) == (raw in {"3", "17", "25"})
        if raw in ids:
            assert np.allclose(features[item].numpy(), matrix[ids.index(raw)])
    proc = run_workbench("-w", ws_path, "data", "features", "audio", folder, "-o", tmp_path / "other",
                         "--dataset", "nosuch")
    assert proc.returncode == 1 and "no dataset named 'nosuch'" in proc.stderr
