"""Device, mixed-precision and seeding. ``auto`` = CUDA, then MPS, then CPU; never hard-coded."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's generators (torch seeds every CUDA device too)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(spec: str = "auto") -> torch.device:
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise ValueError(f"trainer.device: unknown device {spec!r} (auto, cpu, cuda, cuda:N, mps)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"trainer.device: {spec!r} asked for but CUDA is not available to this torch "
                         f"({torch.__version__})")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"trainer.device: {spec!r} asked for but MPS is not available")
    return device


def cpu_has_native_bf16() -> bool:
    """True when the CPU runs bf16 matmuls natively (AVX512-BF16 / AMX); emulated bf16 is far slower than fp32."""
    check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool((check and check()) or (amx and amx()))


def autocast_dtype(device: torch.device, amp: str = "auto") -> torch.dtype | None:
    """bf16 on CUDA (when supported) and on CPUs with native bf16 under ``auto``; ``bf16`` forces it;
    ``fp16`` is float16 (the trainer then scales the loss: GPUs without bf16); ``off``."""
    if amp == "off":
        return None
    if amp == "bf16":
        return torch.bfloat16
    if amp == "fp16":
        return torch.float16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    if device.type == "cpu":
        return torch.bfloat16 if cpu_has_native_bf16() else None
    return None
