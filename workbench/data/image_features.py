"""Image files -> vectors through an image model the user supplies as a local file (nothing is downloaded).

The model is either

- an exported program (``torch.export.save`` to a ``.pt2`` file; export it with a dynamic batch
  dimension, or use ``batch_size`` = the batch it was exported with) or a TorchScript file
  (``torch.jit.save``) of any image model, e.g. a torchvision or open_clip image encoder: its
  output for a (B, 3, S, S) batch, flattened per image, is the vector;
- a state dict (``torch.save(model.state_dict())``) plus ``arch``, a torchvision model name
  (``resnet50``, ``vit_b_16``, ...; needs a torchvision that works with the installed torch): the
  classifier layer is dropped (``fc`` / ``heads`` / the last layer of ``classifier`` become identity),
  so the vector is the penultimate features.

Preprocessing: RGB, the shorter side resized to ``image_size`` (bilinear), a centre crop of
``image_size`` x ``image_size``, scaled to [0, 1] and standardised with ``mean`` / ``std``
(ImageNet's by default). Images go through the model in batches under ``torch.no_grad()`` on
``device`` (auto: CUDA, then MPS, then CPU).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workbench.data.item_files import ItemFilesError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class ImageOptions:
    model: str = ""
    arch: str = ""
    image_size: int = 224
    batch_size: int = 32
    device: str = "auto"
    mean: tuple[float, float, float] = field(default=IMAGENET_MEAN)
    std: tuple[float, float, float] = field(default=IMAGENET_STD)


def load_image_model(o: ImageOptions):
    import torch
    if not o.model:
        raise ItemFilesError("image features need a model file: --model PATH (a TorchScript file, or a torchvision "
                             "state dict with --arch NAME); nothing is downloaded")
    path = Path(o.model).expanduser()
    if not path.is_file():
        raise ItemFilesError(f"--model: {path} does not exist")
    if not o.arch and path.suffix == ".pt2":
        try:
            return torch.export.load(str(path)).module()
        except Exception as e:  # noqa: BLE001 - any loader failure names the file
            raise ItemFilesError(f"--model: {path} is not a torch.export program ({type(e).__name__}: {e})") from None
    if not o.arch:
        try:
            return torch.jit.load(str(path), map_location="cpu")
        except Exception as e:  # noqa: BLE001 - not TorchScript: say what else is accepted
            raise ItemFilesError(f"--model: {path} is not a TorchScript file ({type(e).__name__}); for a state dict "
                                 "give the torchvision architecture with --arch NAME") from None
    try:
        import torchvision
    except Exception as e:  # noqa: BLE001 - ImportError, or a torchvision built for another torch
        raise ItemFilesError(f"--arch {o.arch}: torchvision is not usable ({type(e).__name__}: {e}); install the "
                             "torchvision matching your torch, or export the model as TorchScript") from None
    try:
        model = torchvision.models.get_model(o.arch, weights=None)
    except ValueError as e:
        raise ItemFilesError(f"--arch: {e}") from None
    try:
        model.load_state_dict(torch.load(str(path), map_location="cpu", weights_only=True))
    except Exception as e:  # noqa: BLE001 - wrong file or architecture
        raise ItemFilesError(f"--model: {path} is not a state dict of {o.arch} ({type(e).__name__}: {e})") from None
    _drop_classifier(model)
    return model


def _drop_classifier(model) -> None:
    from torch import nn
    if isinstance(getattr(model, "fc", None), nn.Module):
        model.fc = nn.Identity()
    elif isinstance(getattr(model, "heads", None), nn.Module):
        model.heads = nn.Identity()
    elif isinstance(getattr(model, "classifier", None), nn.Sequential):
        model.classifier[-1] = nn.Identity()
    elif isinstance(getattr(model, "classifier", None), nn.Module):
        model.classifier = nn.Identity()


def load_image(path: Path, size: int, mean, std) -> np.ndarray:
    """(3, size, size) float32, standardised."""
    try:
        from PIL import Image
    except ImportError:
        raise ItemFilesError("image features need Pillow: pip install 'seqrec-workbench[features]'") from None
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            w, h = im.size
            scale = size / min(w, h)
            im = im.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BILINEAR)
            w, h = im.size
            left, top = (w - size) // 2, (h - size) // 2
            im = im.crop((left, top, left + size, top + size))
            x = np.asarray(im, dtype=np.float32) / 255.0
    except ItemFilesError:
        raise
    except Exception as e:  # noqa: BLE001 - any decoder failure names the file
        raise ItemFilesError(f"{path}: cannot read image ({type(e).__name__}: {e})") from None
    x = (x - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return x.transpose(2, 0, 1)


def image_vectors(files: list[tuple[str, Path]], options: ImageOptions, progress=None) -> np.ndarray:
    """(len(files), F) float32, row k for ``files[k]``."""
    import torch

    from workbench.engine.device import resolve_device
    o = options
    model = load_image_model(o)
    device = resolve_device(o.device)
    model = model.to(device)
    if hasattr(model, "eval") and not isinstance(model, torch.fx.GraphModule):
        model = model.eval()
    rows = []
    with torch.no_grad():
        for start in range(0, len(files), o.batch_size):
            chunk = files[start:start + o.batch_size]
            x = torch.from_numpy(np.stack([load_image(p, o.image_size, o.mean, o.std) for _, p in chunk])).to(device)
            out = model(x)
            if isinstance(out, (tuple, list)):
                out = out[0]
            rows.append(out.reshape(len(chunk), -1).float().cpu().numpy())
            if progress is not None:
                progress(min(start + o.batch_size, len(files)), len(files))
    return np.concatenate(rows)
