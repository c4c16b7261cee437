"""SoundMatching with recorded targets, a synth without seed, the training shift and no θ
(the TR-808 experiments), and the scheduler interval; without Hydra or a Trainer."""

from __future__ import annotations

import math
from functools import partial

import lightning.pytorch as pl
import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from experiments.losses.theta_loss import ThetaLoss
from experiments.module import SoundMatching
from experiments.synth_protocol import render, synth_takes_seed
from experiments.training_shift import pad_shift

N = 512  # samples per sound
PAD = 64


class DeterministicSynth(nn.Module):
    """θ (B, 2) -> (B, 1, N) decaying sine; takes no seed. Records its calls."""

    takes_seed = False

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Tensor] = []

    def forward(self, theta: Tensor) -> Tensor:
        self.calls.append(theta.detach().clone())
        t = torch.arange(N, dtype=theta.dtype) / N
        freq = 5.0 + 30.0 * theta[:, :1]
        return (torch.exp(-3 * t) * theta[:, 1:2] * torch.sin(2 * math.pi * freq * t))[:, None]


class SpyEncoder(nn.Module):
    """Records what it reads; a linear map of a few samples to θ̂ in [0, 1]."""

    def __init__(self) -> None:
        super().__init__()
        self.read: list[Tensor] = []
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(N, 2), nn.Sigmoid())

    def forward(self, audio: Tensor) -> Tensor:
        self.read.append(audio.detach().clone())
        return self.net(audio)


class RecordingL1(nn.Module):
    """Audio L1 that keeps its inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[tuple[Tensor, Tensor]] = []

    def forward(self, x_hat: Tensor, x: Tensor) -> Tensor:
        self.inputs.append((x_hat.detach().clone(), x.detach().clone()))
        return (x_hat - x).abs().mean()


def make(loss: nn.Module | None = None, **kw) -> SoundMatching:
    torch.manual_seed(0)
    return SoundMatching(
        DeterministicSynth(), SpyEncoder(), RecordingL1() if loss is None else loss,
        partial(torch.optim.SGD, lr=0.1), ["pitch", "level"], **kw,
    )  # fmt: skip


def recorded_batch(b: int = 4, theta: bool = False) -> dict:
    g = torch.Generator().manual_seed(3)
    out = {
        "x": 0.5 * torch.randn(b, 1, N, generator=g),
        "shift": torch.tensor([-PAD, 0, 17, PAD])[:b],
        "name": [f"hit_{i}" for i in range(b)],
    }
    if theta:
        out["theta"] = torch.rand(b, 2, generator=g)
    return out


@pytest.fixture
def logged(monkeypatch) -> dict[str, float]:
    out: dict[str, float] = {}
    monkeypatch.setattr(SoundMatching, "log", lambda self, name, value, **kw: out.update(
        {name: float(value)}))  # fmt: skip
    return out


def test_synth_seed_property() -> None:
    assert synth_takes_seed(DeterministicSynth()) is False
    assert synth_takes_seed(nn.Identity()) is True  # no attribute: the seeded signature
    bad = nn.Identity()
    bad.takes_seed = "no"
    with pytest.raises(TypeError, match="takes_seed must be a bool"):
        synth_takes_seed(bad)
    seeded = nn.Identity()
    with pytest.raises(ValueError, match="takes a seed"):
        render(seeded, torch.zeros(1, 2))
    synth = DeterministicSynth()
    theta = torch.rand(2, 2)
    assert torch.equal(render(synth, theta, seed=123), synth(theta))  # the seed is not passed


@pytest.mark.parametrize("stage", ["train", "val", "test"])
def test_recorded_target_is_matched_as_it_is(logged, stage) -> None:
    module = make()
    b = recorded_batch()
    steps = {"train": module.training_step, "val": module.validation_step,
             "test": module.test_step}  # fmt: skip
    steps[stage](b, 0)
    # The encoder read the recording; the synth rendered the reconstruction only, without seed.
    (read,) = module.encoder.read
    assert torch.equal(read, b["x"])
    (theta_hat,) = module.synth.calls
    assert torch.equal(theta_hat, module.encoder(b["x"]).detach())
    # No θ in the batch: the loss is logged, no θ error.
    assert set(logged) == {f"{stage}/loss"}


def test_shift_applies_to_the_reconstruction_in_training_only(logged) -> None:
    module = make(pad=PAD)
    b = recorded_batch()
    x_hat = module.synth(module.encoder(b["x"]))
    for stage, step in (("train", module.training_step), ("val", module.validation_step),
                        ("test", module.test_step)):  # fmt: skip
        step(b, 0)
        got_hat, got = module.loss.inputs[-1]
        # The target is delayed by the pad alone, whatever the stage.
        torch.testing.assert_close(got, pad_shift(b["x"], 0, PAD), rtol=0, atol=0)
        shift = b["shift"] if stage == "train" else 0
        torch.testing.assert_close(got_hat, pad_shift(x_hat, shift, PAD), rtol=1e-6, atol=1e-7)
    # Spot check of pad_shift's meaning: example 0 (shift -PAD) is not delayed at all in
    # training, example 3 by 2 * PAD.
    train_hat, _ = module.loss.inputs[0]
    torch.testing.assert_close(train_hat[0], x_hat[0].detach(), rtol=1e-6, atol=1e-7)
    assert torch.equal(train_hat[3, :, : 2 * PAD], torch.zeros(1, 2 * PAD))
    # The test audio: what the loss compared, pad removed (length N - pad).
    audio = module.test_audio
    assert audio["x"].shape == audio["x_hat"].shape == (4, 1, N - PAD)
    assert torch.equal(audio["x"], b["x"][..., : N - PAD])
    torch.testing.assert_close(audio["x_hat"], x_hat[..., : N - PAD].detach(), rtol=1e-6,
                               atol=1e-7)  # fmt: skip


def test_test_examples_are_the_test_steps_audio(logged) -> None:
    """What TestAudio keeps: the test step's compared audio, pad removed, the training shift
    ignored, and the step's θ̂."""
    module = make(pad=PAD)
    b = recorded_batch()
    module.test_step(b, 0)
    kept = module.test_examples(b)
    for key in ("x", "x_hat"):
        assert kept[key].shape == (4, 1, N - PAD)
        assert torch.equal(kept[key], module.test_audio[key])
    assert torch.equal(kept["theta_hat"], module.encoder.net(b["x"]))


def test_without_pad_the_loss_sees_the_sounds_themselves(logged) -> None:
    module = make()
    b = recorded_batch()
    module.training_step(b, 0)
    got_hat, got = module.loss.inputs[0]
    assert torch.equal(got, b["x"])  # the shift is ignored without a pad
    assert got_hat.shape == (4, 1, N)
    module.test_step(b, 0)
    assert torch.equal(module.test_audio["x"], b["x"])


def test_recorded_target_with_theta_has_theta_metrics(logged) -> None:
    module = make()
    b = recorded_batch(theta=True)
    module.validation_step(b, 0)
    assert {"val/loss", "val/theta_l1", "val/theta_l1_pitch", "val/theta_l1_level"} == set(logged)
    theta_hat = module.encoder(b["x"]).detach()
    expected = 1000 * (theta_hat - b["theta"]).abs().mean()
    assert logged["val/theta_l1"] == pytest.approx(expected.item(), rel=1e-5)
    assert set(module.val_examples) == {"x", "x_hat", "theta", "theta_hat", "names"}
    # The recordings' names title the spectrograms.
    assert module.val_examples["names"] == ["hit_0", "hit_1", "hit_2", "hit_3"]
    # Without θ, the audio callbacks get no θ to print.
    module.validation_step(recorded_batch(), 0)
    assert set(module.val_examples) == {"x", "x_hat", "theta_hat", "names"}


def test_theta_loss_needs_theta(logged) -> None:
    module = make(ThetaLoss())
    with pytest.raises(ValueError, match="compares θ, but the batch has no 'theta'"):
        module.training_step(recorded_batch(), 0)
    module.training_step(recorded_batch(theta=True), 0)
    assert module.synth.calls == []  # P-loss in training: nothing rendered
    module.keep_test_audio = True  # what TestMetrics asks for
    module.test_step(recorded_batch(theta=True), 0)
    assert len(module.synth.calls) == 1 and module.test_audio is not None


def test_seeded_synth_needs_target_seeds(logged) -> None:
    class SeededSynth(DeterministicSynth):
        takes_seed = True

        def forward(self, theta: Tensor, seed: Tensor) -> Tensor:
            return super().forward(theta)

    torch.manual_seed(0)
    module = SoundMatching(SeededSynth(), SpyEncoder(), RecordingL1(),
                           partial(torch.optim.SGD, lr=0.1), ["a", "b"])  # fmt: skip
    with pytest.raises(ValueError, match="needs the target seeds"):
        module.training_step(recorded_batch(), 0)


def test_constructor_checks() -> None:
    with pytest.raises(ValueError, match="scheduler_interval must be one of"):
        make(scheduler_interval="batch")
    with pytest.raises(ValueError, match="pad"):
        make(pad=-1)


class RecordedSet(Dataset):
    def __init__(self, n: int) -> None:
        self.x = 0.3 * torch.randn(n, 1, N, generator=torch.Generator().manual_seed(0))

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, i: int) -> dict:
        return {"x": self.x[i], "shift": 0}


@pytest.mark.parametrize("interval, expected_steps", [("epoch", 3), ("step", 6)])
def test_scheduler_interval(tmp_path, interval, expected_steps) -> None:
    # 3 epochs of 2 steps; LinearLR 1 -> 0.1 over 10 scheduler steps.
    linear = partial(torch.optim.lr_scheduler.LinearLR, start_factor=1.0, end_factor=0.1,
                     total_iters=10)  # fmt: skip
    module = make(scheduler=linear, scheduler_interval=interval)
    configured = module.configure_optimizers()
    assert configured["lr_scheduler"]["interval"] == interval
    loader = DataLoader(RecordedSet(4), batch_size=2)
    trainer = pl.Trainer(max_epochs=3, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         default_root_dir=tmp_path)  # fmt: skip
    trainer.fit(module, train_dataloaders=loader)
    (scheduler,) = trainer.lr_scheduler_configs
    assert scheduler.scheduler.last_epoch == expected_steps
    lr = trainer.optimizers[0].param_groups[0]["lr"]
    assert lr == pytest.approx(0.1 * (1 - 0.9 * expected_steps / 10))
