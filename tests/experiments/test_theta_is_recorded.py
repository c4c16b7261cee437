"""θ-IS warmup on recorded targets with a synth that takes no seed and the training shift
(the TR-808 experiments): experiments.theta_is without Lightning."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from experiments.theta_is import prepare_warmup, run_theta_is, warmup_batches
from experiments.training_shift import pad_shift
from scrapl import SCRAPLLoss

N = 256
PAD = 16


class DecaySynth(nn.Module):
    """Deterministic θ (B, 2) -> decaying sine (B, 1, N); no seed."""

    takes_seed = False

    def forward(self, theta: Tensor) -> Tensor:
        t = torch.arange(N, dtype=theta.dtype) / N
        freq = 8.0 + 40.0 * theta[:, :1]
        return (torch.exp(-(1 + 4 * theta[:, 1:2]) * t) * torch.sin(2 * math.pi * freq * t))[
            :, None
        ]


class Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(N, 8), nn.Tanh(), nn.Linear(8, 2), nn.Sigmoid())
        self.read: list[Tensor] = []

    def forward(self, audio: Tensor) -> Tensor:
        self.read.append(audio)
        return self.net(audio.squeeze(1))


class OneShots(Dataset):
    """Items as OneShotDataset's: recorded x (1, N), a shift, a name (no θ, no seed)."""

    def __init__(self, n: int = 6) -> None:
        g = torch.Generator().manual_seed(1)
        self.x = DecaySynth()(torch.rand(n, 2, generator=g)).detach()
        self.shifts = torch.randint(-PAD, PAD + 1, (n,), generator=g)

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, i: int) -> dict:
        return {"x": self.x[i], "shift": int(self.shifts[i]), "name": f"hit{i}", "index": i}


def make_loss() -> SCRAPLLoss:
    return SCRAPLLoss(shape=N, J=3, Q1=1, Q2=1, J_fr=1, Q_fr=1, n_theta=2, seed=0)


def test_warmup_batches_of_recordings_with_a_pad() -> None:
    data = OneShots()
    order = [4, 1, 3, 0, 2, 5]
    theta_kw, synth_kw = warmup_batches(data, DecaySynth(), order, 5, 2, run_seed=0, pad=PAD)
    assert [kw["audio"].shape[0] for kw in theta_kw] == [2, 2, 1]
    audio = torch.cat([kw["audio"] for kw in theta_kw])
    assert torch.equal(audio, data.x[order[:5]])  # the recordings themselves, in order
    for kw in theta_kw:  # the loss's target: the recording delayed by the pad
        assert torch.equal(kw["x"], pad_shift(kw["audio"], 0, PAD))
    shifts = torch.cat([kw["shift"] for kw in synth_kw])
    assert torch.equal(shifts, data.shifts[order[:5]])
    assert all(set(kw) == {"shift"} for kw in synth_kw)  # no seed for this synth
    # Without a pad: the recording is the target, no synth argument at all.
    theta_kw, synth_kw = warmup_batches(data, DecaySynth(), order, 2, 2, run_seed=0)
    assert set(theta_kw[0]) == {"x"} and torch.equal(theta_kw[0]["x"], data.x[order[:2]])
    assert synth_kw == [{}]


def test_warmup_batches_name_missing_keys() -> None:
    with pytest.raises(ValueError, match=r"\['x', 'shift'\].*missing \['shift'\]"):
        warmup_batches([{"x": torch.zeros(1, N)}], DecaySynth(), [0], 1, 1, 0, pad=PAD)
    with pytest.raises(ValueError, match=r"missing \['theta'\]"):
        warmup_batches([{"shift": 0}], DecaySynth(), [0], 1, 1, 0)


def test_warmup_on_recordings_compares_what_training_compares(tmp_path) -> None:
    loss, encoder, synth, data = make_loss(), Encoder(), DecaySynth(), OneShots()
    warm = prepare_warmup(loss, encoder, synth, data, range(6), 0, n_examples=4, batch_size=2,
                          cache_dir=tmp_path, label="rec", n_iter=2, pad=PAD)  # fmt: skip
    # The warmup's synth: the reconstruction shifted as in the training step.
    theta = torch.rand(2, 2)
    shift = torch.tensor([-3, 5])
    torch.testing.assert_close(warm.synth_fn(theta, **{"shift": shift}),
                               pad_shift(synth(theta), shift, PAD))  # fmt: skip
    # The encoder reads the recording, not the delayed target.
    encoder.read.clear()
    warm.theta_fn(**warm.theta_kwargs[0])
    assert torch.equal(encoder.read[-1], data.x[:2])
    probs = run_theta_is(loss, encoder, synth, warm, n_iter=2)
    assert probs is not None and probs.shape == (loss.n_paths,)
    assert math.isclose(float(probs.sum()), 1.0, abs_tol=1e-9)
    assert float(probs.max() - probs.min()) > 1e-4
    # Another pad, another directory (the same recordings, another loss target).
    other = prepare_warmup(make_loss(), encoder, synth, data, range(6), 0, n_examples=4,
                           batch_size=2, cache_dir=tmp_path, label="rec", n_iter=2,
                           pad=PAD // 2)  # fmt: skip
    assert other.save_dir != warm.save_dir
