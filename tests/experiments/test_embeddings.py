"""Tests of the frame embeddings and the Fréchet audio distance built on them."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from experiments.metrics.embeddings import (
    MFCCFrameEmbedding,
    SavedModelFrameEmbedding,
    embed_frames,
    frechet_audio_distance,
)

SR = 44100


@pytest.fixture(scope="module")
def mfcc() -> MFCCFrameEmbedding:
    return MFCCFrameEmbedding()


def _tones(freqs, n=SR, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    x = np.stack([np.sin(2 * math.pi * f * t) * np.exp(-5 * t) for f in freqs])
    return (x + noise * rng.standard_normal(x.shape))[:, None, :].astype(np.float32)


def test_mfcc_frames_are_log_mel_cepstra_without_weights(mfcc):
    assert list(mfcc.parameters()) == []
    x = torch.from_numpy(_tones([200.0, 3000.0], noise=0.01))
    e = mfcc(x)
    assert e.shape == (2, 1 + SR // 512, 40)  # centred frames, hop 512
    # x 10 adds 20 dB to every mel band: only the 0th (constant) cepstral coefficient moves,
    # by 20 * sqrt(n_mels) with the orthonormal DCT.
    d = mfcc(10 * x) - e
    np.testing.assert_allclose(d[..., 0].numpy(), 20 * math.sqrt(128), rtol=1e-5)
    assert d[..., 1:].abs().max() < 1e-3
    # each example is embedded on its own
    torch.testing.assert_close(mfcc(x[1:]), e[1:], rtol=0, atol=1e-3)


def test_embed_frames_stacks_frames_and_resamples(mfcc):
    x = _tones([200.0, 400.0, 800.0])
    frames = embed_frames(mfcc, x, SR, batch_size=2)
    assert frames.shape == (3 * 87, 40) and frames.dtype == np.float64
    np.testing.assert_allclose(frames[:87], mfcc(torch.from_numpy(x[:1]))[0].numpy(), atol=1e-4)
    low_rate = MFCCFrameEmbedding(sr=22050)
    assert embed_frames(low_rate, x, SR).shape == (3 * (1 + 22050 // 512), 40)


def test_fad_is_zero_for_the_same_sounds_and_ranks_distributions(mfcc):
    kicks = _tones(np.linspace(50, 70, 6), noise=0.001, seed=1)
    kicks_again = _tones(np.linspace(51, 71, 6), noise=0.001, seed=2)
    hats = _tones(np.linspace(5000, 7000, 6), noise=0.3, seed=3)
    assert frechet_audio_distance(kicks, kicks, SR, mfcc) == pytest.approx(0.0, abs=1e-6)
    near = frechet_audio_distance(kicks, kicks_again, SR, mfcc)
    far = frechet_audio_distance(kicks, hats, SR, mfcc)
    assert 0 < near < far / 10


class _Framer(nn.Module):
    """A fixed stand-in model: 256-sample frames projected to 4 dims."""

    def __init__(self, frames_last: bool) -> None:
        super().__init__()
        self.proj = nn.Linear(256, 4)
        self.frames_last = frames_last

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        frames = audio[:, 0].unfold(-1, 256, 256)  # (batch, n_frames, 256)
        out = self.proj(frames)
        return out.transpose(1, 2) if self.frames_last else out


def _save(model: nn.Module, path, fmt: str) -> None:
    if fmt == "export":
        batch = torch.export.Dim("batch")
        example = (torch.randn(2, 1, 16000),)
        program = torch.export.export(model, example, dynamic_shapes={"audio": {0: batch}})
        torch.export.save(program, str(path))
    else:
        torch.jit.save(torch.jit.script(model), str(path))


@pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:DeprecationWarning")
@pytest.mark.parametrize(("fmt", "suffix"), [("export", ".pt2"), ("torchscript", ".pt")])
@pytest.mark.parametrize("frames_last", [False, True])
def test_saved_model_from_disk(tmp_path, fmt, suffix, frames_last):
    model = _Framer(frames_last).eval()
    path = tmp_path / f"model{suffix}"
    _save(model, path, fmt)
    emb = SavedModelFrameEmbedding(path, sr=16000, frames_last=frames_last)
    x = torch.randn(3, 1, 16000)
    with torch.no_grad():
        expected = model(x) if not frames_last else model(x).transpose(1, 2)
        torch.testing.assert_close(emb(x), expected)
    # 3 examples in chunks of 2: the exported program's batch dimension is dynamic
    frames = embed_frames(emb, x.numpy(), 16000, batch_size=2)
    assert frames.shape == (3 * (16000 // 256), 4)
    assert frechet_audio_distance(x.numpy(), 0.5 * x.numpy(), 16000, emb) > 0


@pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:DeprecationWarning")
def test_saved_model_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pt2"):
        SavedModelFrameEmbedding(tmp_path / "missing.pt2", sr=16000)
    for name, kind in (("junk.pt", "TorchScript"), ("junk.pt2", r"torch.export \(.pt2\)")):
        (tmp_path / name).write_text("not a model")
        with pytest.raises(ValueError, match=f"{name} is not a {kind} model"):
            SavedModelFrameEmbedding(tmp_path / name, sr=16000)

    class Flat(nn.Module):
        def forward(self, audio: torch.Tensor) -> torch.Tensor:
            return audio.mean(-1)

    flat = tmp_path / "flat.pt"
    _save(Flat(), flat, "torchscript")
    with pytest.raises(ValueError, match=r"flat.pt must return a \(batch, frames, dim\)"):
        SavedModelFrameEmbedding(flat, sr=16000)(torch.zeros(2, 1, 100))


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(n_mfcc=0), ValueError, "n_mfcc"),
        (dict(n_mfcc=200, n_mels=128), ValueError, "n_mfcc .* must be <= n_mels"),
        (dict(sr=-1), ValueError, "sr"),
    ],
)
def test_mfcc_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        MFCCFrameEmbedding(**kwargs)


def test_embed_frames_bad_audio(mfcc):
    with pytest.raises(ValueError, match=r"audio must have shape \(batch, 1, n\)"):
        embed_frames(mfcc, np.zeros((2, 2, 100)), SR)
