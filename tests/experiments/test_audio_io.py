"""Tests of the WAV I/O and atomic-write helper of the experiments (experiments/audio_io.py)."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
import soundfile as sf
import torch

import experiments.audio_io as audio_io
from experiments.audio_io import atomic_output, read_wav, write_wav


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.mark.parametrize("shape", [(1000,), (1, 1000), (2, 777)])
def test_round_trip_exact(tmp_path, shape) -> None:
    # Values beyond [-1, 1] must survive unclipped: the file is 32-bit float.
    audio = torch.randn(shape) * 1.7
    path = tmp_path / "a.wav"
    write_wav(path, audio, 8000)
    back, sr = read_wav(path)
    assert sr == 8000
    assert back.dtype == torch.float32
    assert back.shape == (audio.shape[0] if audio.ndim == 2 else 1, shape[-1])
    assert torch.equal(back, audio.reshape(back.shape))
    assert sf.info(str(path)).subtype == "FLOAT"


def test_float64_and_noncontiguous_input(tmp_path) -> None:
    audio = torch.randn(500, 2, dtype=torch.float64).T  # (2, 500), non-contiguous
    write_wav(str(tmp_path / "b.wav"), audio, 44100)
    back, sr = read_wav(str(tmp_path / "b.wav"))
    assert sr == 44100
    assert torch.equal(back, audio.to(torch.float32))


def test_requires_grad_input(tmp_path) -> None:
    audio = torch.randn(1, 64, requires_grad=True)
    write_wav(tmp_path / "g.wav", audio * 1.0, 8000)
    assert torch.equal(read_wav(tmp_path / "g.wav")[0], audio.detach())


def test_read_pcm_file_as_float32(tmp_path) -> None:
    data = np.array([0, 16384, -32768], dtype=np.int16)
    sf.write(str(tmp_path / "p.wav"), data, 16000, subtype="PCM_16")
    back, sr = read_wav(tmp_path / "p.wav")
    assert sr == 16000 and back.dtype == torch.float32 and back.shape == (1, 3)
    assert torch.equal(back[0], torch.tensor([0.0, 0.5, -1.0]))


def test_creates_folder_and_overwrites(tmp_path) -> None:
    path = tmp_path / "deep" / "er" / "c.wav"
    write_wav(path, torch.zeros(10), 8000)
    write_wav(path, torch.ones(2, 20) * 0.25, 8000)
    back, _ = read_wav(path)
    assert back.shape == (2, 20) and torch.all(back == 0.25)
    assert sorted(os.listdir(path.parent)) == ["c.wav"]  # no temporary file left behind
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


@pytest.mark.parametrize(
    "audio,sr,exc,match",
    [
        (torch.zeros(10, dtype=torch.int16), 8000, TypeError, "floating-point"),
        ([0.0, 1.0], 8000, TypeError, "torch.Tensor"),
        (torch.zeros(1, 1, 10), 8000, ValueError, "shape"),
        (torch.zeros(0), 8000, ValueError, "one sample"),
        (torch.zeros(0, 5), 8000, ValueError, "one channel"),
        (torch.tensor([0.0, float("nan")]), 8000, ValueError, "NaN"),
        (torch.tensor([0.0, float("inf")]), 8000, ValueError, "NaN or infinite"),
        (torch.zeros(10), 8000.0, TypeError, "sr"),
        (torch.zeros(10), True, TypeError, "sr"),
        (torch.zeros(10), 0, ValueError, "sr"),
    ],
)
def test_write_rejects_bad_arguments(tmp_path, audio, sr, exc, match) -> None:
    with pytest.raises(exc, match=match):
        write_wav(tmp_path / "x.wav", audio, sr)
    assert os.listdir(tmp_path) == []


def test_bad_path_type(tmp_path) -> None:
    with pytest.raises(TypeError, match="path"):
        write_wav(123, torch.zeros(4), 8000)
    with pytest.raises(TypeError, match="path"):
        read_wav(None)


def test_failed_write_keeps_old_file(tmp_path, monkeypatch) -> None:
    path = tmp_path / "keep.wav"
    write_wav(path, torch.full((1, 8), 0.5), 8000)
    before = path.read_bytes()

    def broken_write(file, data, samplerate, **kwargs):
        with open(file, "wb") as f:  # a half-written file, then a crash
            f.write(b"RIFF\x00")
        raise OSError("disk full")

    monkeypatch.setattr(audio_io.sf, "write", broken_write)
    with pytest.raises(OSError, match="disk full"):
        write_wav(path, torch.zeros(1, 8), 8000)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.wav"]


def test_atomic_output_success_and_failure(tmp_path) -> None:
    target = tmp_path / "sub" / "t.csv"
    with atomic_output(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".csv" and tmp != target
        assert not target.exists()
        tmp.write_text("a\n")
    assert target.read_text() == "a\n"

    with pytest.raises(RuntimeError, match="boom"), atomic_output(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "a\n"
    assert os.listdir(target.parent) == ["t.csv"]


def test_atomic_output_rejects_folder_name(tmp_path) -> None:
    with pytest.raises(ValueError, match="name a file"), atomic_output(tmp_path / ".."):
        pass
