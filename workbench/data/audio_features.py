"""Audio files -> fixed-length vectors of log-mel and MFCC statistics (numpy; nothing is downloaded).

Per file: decoded to mono (soundfile: WAV, FLAC, OGG, MP3, ...; PCM WAV also without it), resampled
to ``sample_rate`` (scipy's polyphase filter), the first ``max_seconds``; a power spectrogram
(Hann window of ``n_fft``, hop ``hop_length``, centred frames with zero padding), ``n_mels``
Slaney-normalised mel bands (Slaney's mel scale), in dB (10 log10 of max(1e-10, power), floored
80 dB below the maximum), and ``n_mfcc`` MFCCs (orthonormal DCT-II of the log-mel). These are
librosa's definitions (``melspectrogram``, ``power_to_db(ref=1.0)``, ``mfcc``); they are computed
here with numpy because librosa's JIT compilation costs tens of seconds per process.

The vector: [mean over time of each log-mel band, their std, mean of each MFCC, their std],
2 * n_mels + 2 * n_mfcc numbers. A file shorter than one window is zero-padded to one frame.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np

from workbench.data.item_files import ItemFilesError


@dataclass
class AudioOptions:
    sample_rate: int = 22050
    n_mels: int = 64
    n_mfcc: int = 20
    max_seconds: float = 30.0
    n_fft: int = 2048
    hop_length: int = 512


# ------------------------------------------------------------------ decoding
def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
        raw = w.readframes(w.getnframes())
    if width == 1:
        x = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width in (2, 4):
        x = np.frombuffer(raw, dtype=f"<i{width}").astype(np.float32) / float(2 ** (8 * width - 1))
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = (np.where(v >= 1 << 23, v - (1 << 24), v)).astype(np.float32) / float(1 << 23)
    else:
        raise ValueError(f"{8 * width}-bit samples")
    return x.reshape(-1, channels).mean(1), rate


def read_audio(path: Path, max_seconds: float = 0.0) -> tuple[np.ndarray, int]:
    """(mono float32 samples, sample rate)."""
    try:
        try:
            import soundfile
        except ImportError:
            soundfile = None
        if soundfile is not None:
            frames = -1
            if max_seconds:
                frames = int(np.ceil(max_seconds * soundfile.info(str(path)).samplerate))
            x, rate = soundfile.read(str(path), frames=frames, dtype="float32", always_2d=True)
            x = x.mean(1)
        elif path.suffix.lower() == ".wav":
            x, rate = _read_wav(path)
        else:
            raise ItemFilesError(f"{path}: reading {path.suffix} needs soundfile: pip install "
                                 "'seqrec-workbench[features]'")
    except ItemFilesError:
        raise
    except Exception as e:  # noqa: BLE001 - any decoder failure names the file
        raise ItemFilesError(f"{path}: cannot read audio ({type(e).__name__}: {e})") from None
    if max_seconds:
        x = x[:int(np.ceil(max_seconds * rate))]
    if x.size == 0:
        raise ItemFilesError(f"{path}: no audio samples")
    return np.ascontiguousarray(x, dtype=np.float32), int(rate)


def resample(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return x
    from scipy.signal import resample_poly
    g = gcd(rate, target)
    return resample_poly(x, target // g, rate // g).astype(np.float32)


# ------------------------------------------------------------------ features (librosa's definitions)
def hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, f / f_sp)


def mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filters(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    """(n_mels, 1 + n_fft // 2) Slaney-normalised triangular filters from 0 Hz to sr / 2."""
    fft_freqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2.0), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights


def power_spectrogram(y: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """(1 + n_fft // 2, frames) |STFT|^2, centred frames (zero padding), periodic Hann window."""
    y = np.pad(y.astype(np.float64), n_fft // 2)
    if y.size < n_fft:
        y = np.pad(y, (0, n_fft - y.size))
    frames = 1 + (y.size - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    return (np.abs(np.fft.rfft(y[idx] * window, axis=1)) ** 2).T


def log_mel_and_mfcc(y: np.ndarray, sr: int, o: AudioOptions) -> tuple[np.ndarray, np.ndarray]:
    from scipy.fft import dct
    mel = mel_filters(sr, o.n_fft, o.n_mels) @ power_spectrogram(y, o.n_fft, o.hop_length)
    log_mel = 10.0 * np.log10(np.maximum(1e-10, mel))
    log_mel = np.maximum(log_mel, log_mel.max() - 80.0)
    mfcc = dct(log_mel, axis=0, type=2, norm="ortho")[:o.n_mfcc]
    return log_mel, mfcc


def audio_vector(path: Path, o: AudioOptions) -> np.ndarray:
    y, rate = read_audio(path, o.max_seconds)
    log_mel, mfcc = log_mel_and_mfcc(resample(y, rate, o.sample_rate), o.sample_rate, o)
    return np.concatenate([log_mel.mean(1), log_mel.std(1), mfcc.mean(1), mfcc.std(1)]).astype(np.float32)


def audio_vectors(files: list[tuple[str, Path]], options: AudioOptions | None = None,
                  progress=None) -> np.ndarray:
    """(len(files), 2 * n_mels + 2 * n_mfcc) float32, row k for ``files[k]``."""
    o = options or AudioOptions()
    rows = []
    for k, (_, path) in enumerate(files):
        rows.append(audio_vector(path, o))
        if progress is not None:
            progress(k + 1, len(files))
    return np.stack(rows)
