"""Tests of the file-writing callbacks (AudioExamples, PathPlots): fake and real Trainer."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from types import SimpleNamespace

import lightning.pytorch as pl
import matplotlib.image as mpimg
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from experiments.audio_io import read_wav
from experiments.callbacks.audio_examples import AudioExamples, should_log
from experiments.callbacks.path_plots import PathPlots

N_SAMPLES, SR = 1024, 8000


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def _examples(n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "x": torch.randn(n, 1, N_SAMPLES, generator=g) * 0.3,
        "x_hat": torch.randn(n, 1, N_SAMPLES, generator=g) * 1.5,  # beyond [-1, 1] on purpose
        "theta": torch.rand(n, 2, generator=g),
        "theta_hat": torch.rand(n, 2, generator=g),
    }


def _trainer(epoch: int = 0, **kwargs) -> SimpleNamespace:
    defaults = dict(
        current_epoch=epoch, global_step=10 * (epoch + 1), is_global_zero=True,
        sanity_checking=False, loggers=[],
    )  # fmt: skip
    defaults.update(kwargs)
    return SimpleNamespace(**defaults)


def _paths_loss(n_paths: int = 5) -> SimpleNamespace:
    probs = torch.softmax(torch.randn(n_paths, dtype=torch.float64), 0)
    return SimpleNamespace(
        probs=probs, path_counts={0: 4, 3: 1}, n_paths=n_paths, unif_prob=1 / n_paths
    )


def _module(n: int = 6, sr: float = SR, loss: object = None) -> SimpleNamespace:
    return SimpleNamespace(
        val_examples=_examples(n),
        synth=SimpleNamespace(sr=sr),
        loss=loss if loss is not None else nn.MSELoss(),
        theta_names=["density", "slope"],
    )


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _assert_png(path: Path) -> None:
    assert path.stat().st_size > 0
    assert mpimg.imread(path).shape[0] > 10


def test_audio_examples_writes_wavs_and_png(tmp_path) -> None:
    cb = AudioExamples(str(tmp_path / "audio"), str(tmp_path / "plots"), n_examples=4)
    module = _module(n=6)
    cb.on_validation_epoch_end(_trainer(epoch=2), module)
    names = sorted(os.listdir(tmp_path / "audio"))
    assert names == sorted(
        f"epoch002_ex{i}_{kind}.wav" for i in range(4) for kind in ("target", "recon")
    )
    for i in range(4):
        for kind, key in (("target", "x"), ("recon", "x_hat")):
            audio, sr = read_wav(tmp_path / "audio" / f"epoch002_ex{i}_{kind}.wav")
            assert sr == SR
            assert torch.equal(audio, module.val_examples[key][i])
    assert os.listdir(tmp_path / "plots") == ["epoch002_spectrograms.png"]
    _assert_png(tmp_path / "plots" / "epoch002_spectrograms.png")


def test_audio_examples_fewer_examples_float_sr_no_theta(tmp_path) -> None:
    cb = AudioExamples(str(tmp_path / "a"), str(tmp_path / "a"), n_examples=4)
    module = _module(n=2, sr=8000.0)
    del module.val_examples["theta"], module.val_examples["theta_hat"]
    del module.theta_names
    cb.on_validation_epoch_end(_trainer(), module)
    assert sorted(os.listdir(tmp_path / "a")) == [
        "epoch000_ex0_recon.wav", "epoch000_ex0_target.wav",
        "epoch000_ex1_recon.wav", "epoch000_ex1_target.wav",
        "epoch000_spectrograms.png",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "trainer_kwargs,every_n,val_examples_none",
    [
        (dict(sanity_checking=True), 1, False),
        (dict(is_global_zero=False), 1, False),
        (dict(current_epoch=0), 2, False),
        (dict(current_epoch=2), 2, False),
        (dict(), 1, True),
    ],
)
def test_callbacks_skip(tmp_path, trainer_kwargs, every_n, val_examples_none) -> None:
    module = _module(loss=_paths_loss())
    if val_examples_none:
        module.val_examples = None
    trainer = _trainer(**trainer_kwargs)
    audio_cb = AudioExamples(str(tmp_path / "a"), str(tmp_path / "p"), every_n_epochs=every_n)
    audio_cb.on_validation_epoch_end(trainer, module)
    assert not (tmp_path / "a").exists() and not (tmp_path / "p").exists()
    if not val_examples_none:  # PathPlots does not look at val_examples
        PathPlots(str(tmp_path / "paths"), every_n_epochs=every_n).on_validation_epoch_end(
            trainer, module
        )
        assert not (tmp_path / "paths").exists()


def test_should_log_matches_lightning_epoch_rule() -> None:
    fired = [e for e in range(10) if should_log(_trainer(epoch=e), 5)]
    assert fired == [4, 9]
    assert all(should_log(_trainer(epoch=e), 1) for e in range(3))


def test_audio_examples_bad_sample_rate(tmp_path) -> None:
    cb = AudioExamples(str(tmp_path / "a"), str(tmp_path / "p"))
    with pytest.raises(ValueError, match="synth.sr"):
        cb.on_validation_epoch_end(_trainer(), _module(sr=8000.5))
    with pytest.raises(TypeError, match="synth.sr"):
        cb.on_validation_epoch_end(_trainer(), _module(sr="8000"))


def test_audio_examples_bad_val_examples(tmp_path) -> None:
    module = _module()
    module.val_examples = {"x": torch.zeros(1, 1, 10)}
    with pytest.raises(ValueError, match="x_hat"):
        AudioExamples(str(tmp_path), str(tmp_path)).on_validation_epoch_end(_trainer(), module)


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(out_dir=""), TypeError, "out_dir"),
        (dict(plot_dir=Path("p")), TypeError, "plot_dir"),
        (dict(n_examples=0), ValueError, "n_examples"),
        (dict(n_examples=2.0), TypeError, "n_examples"),
        (dict(every_n_epochs=0), ValueError, "every_n_epochs"),
    ],
)
def test_audio_examples_rejects_bad_arguments(kwargs, exc, match) -> None:
    args = dict(out_dir="a", plot_dir="p")
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        AudioExamples(**args)


def test_path_plots_rejects_bad_arguments() -> None:
    with pytest.raises(TypeError, match="out_dir"):
        PathPlots(None)
    with pytest.raises(ValueError, match="every_n_epochs"):
        PathPlots("x", every_n_epochs=0)


def test_path_plots_writes_png_and_csv(tmp_path) -> None:
    loss = _paths_loss(n_paths=5)
    module = _module(loss=loss)
    cb = PathPlots(str(tmp_path / "paths"))
    cb.on_validation_epoch_end(_trainer(epoch=0), module)
    loss.path_counts[1] = 7  # the next epoch must overwrite the csv
    cb.on_validation_epoch_end(_trainer(epoch=1), module)
    assert sorted(os.listdir(tmp_path / "paths")) == [
        "epoch000_paths.png", "epoch001_paths.png", "path_counts.csv",
    ]  # fmt: skip
    _assert_png(tmp_path / "paths" / "epoch001_paths.png")
    rows = _read_csv(tmp_path / "paths" / "path_counts.csv")
    assert [r["path_idx"] for r in rows] == ["0", "1", "2", "3", "4"]
    assert [int(r["count"]) for r in rows] == [4, 7, 0, 1, 0]
    # Probabilities round-trip exactly (float64 repr).
    assert torch.equal(
        torch.tensor([float(r["prob"]) for r in rows], dtype=torch.float64), loss.probs
    )


def test_path_plots_ignores_losses_without_sampler(tmp_path) -> None:
    cb = PathPlots(str(tmp_path / "paths"))
    cb.on_validation_epoch_end(_trainer(), _module(loss=nn.MSELoss()))
    no_counts = SimpleNamespace(probs=torch.ones(3) / 3, n_paths=3)
    cb.on_validation_epoch_end(_trainer(), _module(loss=no_counts))
    module = _module()
    del module.loss
    cb.on_validation_epoch_end(_trainer(), module)
    assert not (tmp_path / "paths").exists()


class _RecordingExperiment:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def add_figure(self, tag, figure, global_step=None, close=True) -> None:
        self.calls.append((tag, figure, global_step, close))


class _RecordingWandb:
    def __init__(self) -> None:
        self.calls: list[tuple] = []
        # A W&B run has no add_figure; it must not be used as TensorBoard.
        self.experiment = SimpleNamespace()

    def log_image(self, key, images, step=None) -> None:
        self.calls.append((key, images, step))


def test_figures_go_to_image_capable_loggers(tmp_path) -> None:
    tb = SimpleNamespace(experiment=_RecordingExperiment())
    wandb = _RecordingWandb()
    plain = SimpleNamespace(experiment=SimpleNamespace(log=lambda *a: None))  # e.g. a CSV logger
    trainer = _trainer(epoch=1, loggers=[tb, wandb, plain])
    module = _module(loss=_paths_loss())
    AudioExamples(str(tmp_path / "a"), str(tmp_path / "p")).on_validation_epoch_end(trainer, module)
    PathPlots(str(tmp_path / "paths")).on_validation_epoch_end(trainer, module)

    tags = [c[0] for c in tb.experiment.calls]
    assert tags == ["val_examples/spectrograms", "scrapl/path_sampling"]
    assert all(
        isinstance(c[1], Figure) and c[2] == 20 and c[3] is False for c in tb.experiment.calls
    )
    assert wandb.calls == [
        ("val_examples/spectrograms", [str(tmp_path / "p" / "epoch001_spectrograms.png")], 20),
        ("scrapl/path_sampling", [str(tmp_path / "paths" / "epoch001_paths.png")], 20),
    ]


def test_real_tensorboard_logger(tmp_path) -> None:
    pytest.importorskip("tensorboard")
    from lightning.pytorch.loggers import TensorBoardLogger

    logger = TensorBoardLogger(str(tmp_path / "tb"), name="", version=0)
    trainer = _trainer(loggers=[logger])
    module = _module(loss=_paths_loss())
    PathPlots(str(tmp_path / "paths")).on_validation_epoch_end(trainer, module)
    logger.experiment.flush()
    events = [p for p in (tmp_path / "tb").rglob("events.out.tfevents.*")]
    assert events and events[0].stat().st_size > 1000  # the PNG-encoded image is in there


def test_logger_errors_propagate(tmp_path) -> None:
    def broken(**kwargs):
        raise RuntimeError("logger down")

    trainer = _trainer(loggers=[SimpleNamespace(log_image=broken)])
    with pytest.raises(RuntimeError, match="logger down"):
        PathPlots(str(tmp_path)).on_validation_epoch_end(trainer, _module(loss=_paths_loss()))


# ---------------------------------------------------------------- real Trainer run

N_PATHS, N_VAL_SANITY, N_VAL = 5, 6, 2


class _FakeScraplLoss(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("probs", torch.full((N_PATHS,), 1 / N_PATHS, dtype=torch.float64))
        self.path_counts: dict[int, int] = {}
        self.n_paths = N_PATHS
        self.unif_prob = 1 / N_PATHS

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        # Stand-in for a path-sampling loss: pick a path, count it, skew the probabilities.
        path = sum(self.path_counts.values()) % N_PATHS
        self.path_counts[path] = self.path_counts.get(path, 0) + 1
        self.probs[path] += 0.1
        self.probs /= self.probs.sum()
        return nn.functional.mse_loss(x, y)


class _TinyModule(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(4, 2)
        self.loss = _FakeScraplLoss()
        self.synth = SimpleNamespace(sr=SR)
        self.theta_names = ["density", "slope"]
        self.val_examples: dict[str, torch.Tensor] | None = None
        self.sanity_examples: dict[str, torch.Tensor] | None = None

    def training_step(self, batch, batch_idx):
        x, y = batch
        return self.loss(self.net(x), y)

    def validation_step(self, batch, batch_idx):
        if batch_idx == 0:
            # The sanity check gets more examples than the real epochs: if the callbacks did
            # not skip it, ex2/ex3 files would appear.
            sanity = self.trainer.sanity_checking
            examples = _examples(N_VAL_SANITY if sanity else N_VAL, seed=100 + self.current_epoch)
            self.val_examples = examples
            if sanity:
                self.sanity_examples = examples
            else:
                self.epoch_examples = getattr(self, "epoch_examples", [])
                self.epoch_examples.append(examples)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)

    def _loader(self) -> DataLoader:
        data = TensorDataset(torch.randn(8, 4), torch.randn(8, 2))
        return DataLoader(data, batch_size=4)

    def train_dataloader(self) -> DataLoader:
        return self._loader()

    def val_dataloader(self) -> DataLoader:
        return self._loader()


@pytest.mark.filterwarnings("ignore::lightning.fabric.utilities.warnings.PossibleUserWarning")
def test_real_trainer_run(tmp_path) -> None:
    every1 = AudioExamples(str(tmp_path / "audio"), str(tmp_path / "plots"), n_examples=4)
    every2 = AudioExamples(str(tmp_path / "audio2"), str(tmp_path / "plots2"), every_n_epochs=2)
    paths = PathPlots(str(tmp_path / "paths"))
    module = _TinyModule()
    trainer = pl.Trainer(
        max_epochs=2,
        limit_train_batches=2,
        limit_val_batches=1,
        logger=False,
        enable_checkpointing=False,
        accelerator="cpu",
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(tmp_path),
        callbacks=[every1, every2, paths],
    )
    trainer.fit(module)

    assert module.sanity_examples is not None  # the sanity check did run
    assert len(module.epoch_examples) == 2
    assert sorted(os.listdir(tmp_path / "audio")) == sorted(
        f"epoch{e:03d}_ex{i}_{kind}.wav"
        for e in range(2)
        for i in range(N_VAL)
        for kind in ("target", "recon")
    )
    for e, examples in enumerate(module.epoch_examples):
        for i in range(N_VAL):
            audio, sr = read_wav(tmp_path / "audio" / f"epoch{e:03d}_ex{i}_recon.wav")
            assert sr == SR and torch.equal(audio, examples["x_hat"][i])
    assert sorted(os.listdir(tmp_path / "plots")) == [
        "epoch000_spectrograms.png", "epoch001_spectrograms.png",
    ]  # fmt: skip
    _assert_png(tmp_path / "plots" / "epoch001_spectrograms.png")
    # every_n_epochs=2 -> only the second epoch (index 1).
    assert {n[:8] for n in os.listdir(tmp_path / "audio2")} == {"epoch001"}
    assert os.listdir(tmp_path / "plots2") == ["epoch001_spectrograms.png"]

    assert sorted(os.listdir(tmp_path / "paths")) == [
        "epoch000_paths.png", "epoch001_paths.png", "path_counts.csv",
    ]  # fmt: skip
    _assert_png(tmp_path / "paths" / "epoch000_paths.png")
    rows = _read_csv(tmp_path / "paths" / "path_counts.csv")
    assert len(rows) == N_PATHS
    counts = [int(r["count"]) for r in rows]
    assert counts == [module.loss.path_counts.get(i, 0) for i in range(N_PATHS)]
    assert sum(counts) == 4  # 2 epochs × 2 training batches
    probs = torch.tensor([float(r["prob"]) for r in rows], dtype=torch.float64)
    assert torch.equal(probs, module.loss.probs)
    # No temporary files anywhere.
    assert not [p for p in tmp_path.rglob(".*") if p.is_file()]
