"""Frame embeddings for the Fréchet audio distance (FAD), pluggable.

The paper (Mitcheltree et al., ICLR 2026, SCRAPL) computes FAD on EnCodec (24 kHz) frame
embeddings. Pretrained weights cannot be fetched at run time here, so the default embedding
is a fixed, weight-free one, :class:`MFCCFrameEmbedding` (40 MFCCs of a 128-band log-mel
spectrogram, 2048-sample frames, hop 512): a FAD computed with it measures the same kind of
distribution distance but its values are **not** comparable with the paper's FAD. Any model
whose weights are on disk plugs in through :class:`SavedModelFrameEmbedding` (a
``torch.export``-ed or TorchScript file, e.g. an exported EnCodec encoder with ``sr=24000``).

The interface, :class:`FrameEmbedding`: an ``nn.Module`` with an ``sr`` attribute (the rate
its input must have) whose ``forward`` maps ``(batch, 1, n)`` audio to
``(batch, n_frames, dim)`` embeddings. :func:`embed_frames` resamples to that rate with
``soxr`` when needed and stacks every frame of every example; :func:`frechet_audio_distance`
compares two sets of sounds, and :class:`FrechetAudioDistanceMetric` is that as a set metric of
:class:`experiments.callbacks.test_metrics.TestMetrics` (the embedding plugged in by config).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soxr
import torch
from nnAudio.features import MFCC
from numpy.typing import ArrayLike
from torch import Tensor, nn

from experiments.metrics.frechet import frechet_distance_from_embeddings
from scrapl.validation import check_bool, check_int, check_positive

__all__ = [
    "FrameEmbedding",
    "FrechetAudioDistanceMetric",
    "MFCCFrameEmbedding",
    "SavedModelFrameEmbedding",
    "embed_frames",
    "frechet_audio_distance",
]


class FrameEmbedding(nn.Module):
    """Interface: ``forward(audio (batch, 1, n) at self.sr) -> (batch, n_frames, dim)``."""

    sr: float

    def forward(self, audio: Tensor) -> Tensor:  # pragma: no cover - interface
        raise NotImplementedError


class MFCCFrameEmbedding(FrameEmbedding):
    """Fixed MFCC frames (nnAudio): no learned weights, works offline.

    Args:
        sr: sample rate of the input in Hz.
        n_mfcc: coefficients per frame (the embedding's dimension).
        n_mels: mel bands of the log-mel spectrogram the MFCCs are computed from.
        n_fft, hop_length: STFT frame and hop in samples (centred frames).
    """

    def __init__(
        self,
        sr: int = 44100,
        n_mfcc: int = 40,
        n_mels: int = 128,
        n_fft: int = 2048,
        hop_length: int = 512,
    ) -> None:
        super().__init__()
        self.sr = check_positive("sr", sr)
        self.n_mfcc = check_int("n_mfcc", n_mfcc, 1)
        n_mels = check_int("n_mels", n_mels, 1)
        if self.n_mfcc > n_mels:
            raise ValueError(f"n_mfcc ({n_mfcc}) must be <= n_mels ({n_mels})")
        # top_db=None: a frame's embedding must not depend on the loudest frame of its clip.
        self.mfcc = MFCC(
            sr=int(sr),
            n_mfcc=self.n_mfcc,
            n_mels=n_mels,
            n_fft=check_int("n_fft", n_fft, 2),
            hop_length=check_int("hop_length", hop_length, 1),
            top_db=None,
            verbose=False,
        )

    def forward(self, audio: Tensor) -> Tensor:
        return self.mfcc(audio.reshape(audio.shape[0], -1)).transpose(1, 2)


class SavedModelFrameEmbedding(FrameEmbedding):
    """A model loaded from a file on disk (CPU): a ``torch.export`` program or TorchScript.

    Args:
        path: a ``.pt2`` file written by ``torch.export.save`` (export it with a dynamic batch
            dimension), or a file written by ``torch.jit.save``.
        sr: sample rate in Hz the model expects its input at.
        frames_last: the model returns ``(batch, dim, n_frames)`` (as convolutional
            encoders do) rather than ``(batch, n_frames, dim)``.
    """

    def __init__(self, path: str | os.PathLike, sr: float, frames_last: bool = False) -> None:
        super().__init__()
        self.path = Path(path)
        self.sr = check_positive("sr", sr)
        self.frames_last = check_bool("frames_last", frames_last)
        if not self.path.is_file():
            raise FileNotFoundError(f"embedding model file not found: {self.path}")
        kind = "torch.export (.pt2)" if self.path.suffix == ".pt2" else "TorchScript"
        try:
            if self.path.suffix == ".pt2":
                self.model = torch.export.load(str(self.path)).module()
            else:
                self.model = torch.jit.load(str(self.path), map_location="cpu").eval()
        except Exception as err:  # the loaders raise zipfile, pickle and runtime errors alike
            raise ValueError(f"{self.path} is not a {kind} model ({err})") from err

    def train(self, mode: bool = True) -> SavedModelFrameEmbedding:
        # The loaded model runs as saved: an exported program has no train/eval switch, and a
        # TorchScript one is put in eval mode once, at load time.
        self.training = mode
        return self

    def forward(self, audio: Tensor) -> Tensor:
        out = self.model(audio)
        if not isinstance(out, Tensor) or out.ndim != 3 or out.shape[0] != audio.shape[0]:
            shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise ValueError(
                f"the model in {self.path} must return a (batch, frames, dim) tensor "
                f"(or (batch, dim, frames) with frames_last=True), got {shape}"
            )
        return out.transpose(1, 2) if self.frames_last else out


def _as_batch(name: str, audio: ArrayLike) -> np.ndarray:
    if isinstance(audio, Tensor):
        audio = audio.detach().cpu().numpy()
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 3 and audio.shape[1] == 1:
        audio = audio[:, 0]
    if audio.ndim != 2 or audio.shape[0] < 1 or audio.shape[1] < 1:
        raise ValueError(f"{name} must have shape (batch, 1, n) or (batch, n), got {audio.shape}")
    return audio


def embed_frames(
    embedding: FrameEmbedding, audio: ArrayLike, sr: float, batch_size: int = 16
) -> np.ndarray:
    """Every frame embedding of every example, ``(batch * n_frames, dim)`` float64.

    Args:
        embedding: a :class:`FrameEmbedding` (put in eval mode; no gradients).
        audio: ``(batch, 1, n)`` or ``(batch, n)`` mono audio at ``sr``.
        sr: sample rate of ``audio``; resampled with ``soxr`` to ``embedding.sr`` if they differ.
        batch_size: examples per forward pass.
    """
    sr = check_positive("sr", sr)
    batch_size = check_int("batch_size", batch_size, 1)
    audio = _as_batch("audio", audio)
    if sr != embedding.sr:
        audio = np.stack([soxr.resample(a, sr, embedding.sr) for a in audio])
    embedding.eval()
    device = next((b.device for b in embedding.buffers()), torch.device("cpu"))
    chunks = []
    with torch.no_grad():
        for start in range(0, audio.shape[0], batch_size):
            x = torch.from_numpy(audio[start : start + batch_size]).unsqueeze(1).to(device)
            out = embedding(x)
            chunks.append(out.reshape(-1, out.shape[-1]).double().cpu().numpy())
    return np.concatenate(chunks)


def frechet_audio_distance(
    target: ArrayLike,
    recon: ArrayLike,
    sr: float,
    embedding: FrameEmbedding,
    batch_size: int = 16,
) -> float:
    """Fréchet distance between the frame embeddings of two sets of sounds.

    Args:
        target, recon: ``(batch, 1, n)`` or ``(batch, n)`` audio at ``sr`` (the batch sizes
            and lengths may differ).
        sr: their sample rate in Hz.
        embedding: the frame embedding (:class:`MFCCFrameEmbedding` by default in the configs).
        batch_size: examples per forward pass.
    """
    a = embed_frames(embedding, target, sr, batch_size)
    b = embed_frames(embedding, recon, sr, batch_size)
    return frechet_distance_from_embeddings(a, b)


class FrechetAudioDistanceMetric(nn.Module):
    """FAD between a test split's reconstructions and targets (a set metric).

    Args:
        embedding: the frame embedding, e.g. :class:`MFCCFrameEmbedding` (the default of the
            configs: its values are not the paper's EnCodec FAD) or
            :class:`SavedModelFrameEmbedding` for a model on disk.
        sr: sample rate of the audio compared, in Hz.
        batch_size: examples per embedding forward pass.

    ``compare_sets(x_hat, x)`` with ``(n, 1, N)`` audio returns the Fréchet distance between
    the Gaussians of their frame embeddings (:func:`frechet_audio_distance`).
    """

    def __init__(self, embedding: FrameEmbedding, sr: float = 44100, batch_size: int = 16) -> None:
        super().__init__()
        if not isinstance(embedding, nn.Module) or not hasattr(embedding, "sr"):
            raise TypeError(
                "embedding must be a frame embedding (an nn.Module with an sr attribute), got "
                f"{type(embedding).__name__}"
            )
        self.embedding = embedding
        self.sr = check_positive("sr", sr)
        self.batch_size = check_int("batch_size", batch_size, 1)

    def compare_sets(self, x_hat: ArrayLike, x: ArrayLike) -> float:
        return frechet_audio_distance(x, x_hat, self.sr, self.embedding, self.batch_size)
