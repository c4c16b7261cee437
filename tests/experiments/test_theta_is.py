"""θ-IS warmup glue (experiments.theta_is) and its Lightning callback (experiments.callbacks)."""

from __future__ import annotations

import logging
import math
from types import SimpleNamespace

import lightning.pytorch as pl
import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

import experiments.callbacks.theta_is as callback_mod
from experiments.callbacks.theta_is import ThetaIS
from experiments.data.theta_grid import ThetaGrid, ThetaGridDataset
from experiments.theta_is import run_theta_is, warmup_batches, warmup_indices
from scrapl import SCRAPLLoss
from scrapl.warmup_store import PROBS_NAME

N = 256  # samples per sound
N_THETA = 2
SR = 8000.0


def make_loss(**kwargs) -> SCRAPLLoss:
    # 5 paths: the smallest configuration with spin-up/down paths; warmup is ~0.1 s/path here.
    kw = dict(shape=N, J=3, Q1=1, Q2=1, J_fr=1, Q_fr=1, n_theta=N_THETA, seed=0)
    kw.update(kwargs)
    return SCRAPLLoss(**kw)


class TinySynth(nn.Module):
    """θ -> AM/FM sine ``(B, 1, N)``; phase and a little noise come from the per-example seed."""

    def forward(self, theta: Tensor, seed: int | Tensor) -> Tensor:
        batch = theta.shape[0]
        seeds = seed.tolist() if isinstance(seed, Tensor) else [seed + i for i in range(batch)]
        gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
        phase = torch.stack([2 * math.pi * torch.rand((), generator=g) for g in gens])
        noise = torch.stack([0.01 * torch.randn(N, generator=g) for g in gens])
        t = torch.arange(N, dtype=theta.dtype) / SR
        freq = 400.0 + 1600.0 * theta[:, :1]  # carrier, Hz
        depth = theta[:, 1:2]  # amplitude-modulation depth
        am = 1.0 + depth * torch.sin(2 * math.pi * 60.0 * t)
        x = am * torch.sin(2 * math.pi * freq * t + phase.to(theta)[:, None]) + noise.to(theta)
        return x.unsqueeze(1)


class TinyEncoder(nn.Module):
    """``audio (B, 1, N)`` -> θ̂ in [0, 1]: log |rfft| band energies -> MLP with dropout."""

    def __init__(self, dropout: float = 0.5, seed: int = 0) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(16, 8), nn.Tanh(), nn.Dropout(dropout), nn.Linear(8, N_THETA), nn.Sigmoid()
        )
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in self.net.parameters():
                p.copy_(torch.randn(p.shape, generator=g))

    def forward(self, audio: Tensor) -> Tensor:
        mag = torch.fft.rfft(audio.squeeze(1)).abs()[:, : N // 2]
        bands = torch.log1p(mag.reshape(mag.shape[0], 16, -1).mean(-1))
        return self.net(bands)


class AlwaysDropoutEncoder(TinyEncoder):
    """Dropout that ignores eval mode: not deterministic. On the input samples, so that two
    calls cannot draw the same mask (on the 2 x 2 outputs they did, one time in 16)."""

    def forward(self, audio: Tensor) -> Tensor:
        return super().forward(nn.functional.dropout(audio, p=0.5, training=True))


class TinyDataset(Dataset):
    """Items as in ThetaGridDataset: theta (n_theta,), seed / seed_hat / point int64."""

    def __init__(self, n: int = 12) -> None:
        self.theta = torch.rand(n, N_THETA, generator=torch.Generator().manual_seed(1))

    def __len__(self) -> int:
        return self.theta.shape[0]

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        n = len(self)
        return {
            "theta": self.theta[i].clone(),
            "seed": torch.tensor(i, dtype=torch.int64),
            "seed_hat": torch.tensor(n + i, dtype=torch.int64),
            "point": torch.tensor(i, dtype=torch.int64),
        }


@pytest.fixture(scope="module")
def loss() -> SCRAPLLoss:
    return make_loss()


@pytest.fixture
def hvp_counter(monkeypatch):
    """Count the library's per-path power iterations (its only expensive call)."""
    import scrapl.warmup as warmup

    calls = []
    real = warmup.path_batch_eigenvalues

    def counting(*args, **kwargs):
        calls.append(args[5])  # path_idx
        return real(*args, **kwargs)

    monkeypatch.setattr(warmup, "path_batch_eigenvalues", counting)
    return calls


# -- warmup_indices ------------------------------------------------------------------------


@pytest.mark.parametrize("n_items", [1, 2, 7, 10, 33, 1000])
def test_warmup_indices_spread_unique_deterministic(n_items):
    for k in {k for k in (1, 2, 3, n_items // 2, n_items - 1, n_items) if 1 <= k <= n_items}:
        idxs = warmup_indices(n_items, k)
        assert len(idxs) == k == len(set(idxs))
        assert idxs == sorted(idxs) and 0 <= idxs[0] and idxs[-1] < n_items
        assert idxs == warmup_indices(n_items, k)
        if k > 1:
            assert idxs[0] == 0 and idxs[-1] == n_items - 1
            step = (n_items - 1) / (k - 1)
            for i, j in enumerate(idxs):
                assert abs(j - i * step) <= 0.5
    assert warmup_indices(5, 5) == [0, 1, 2, 3, 4]
    assert warmup_indices(10, 4) == [0, 3, 6, 9]
    assert warmup_indices(9, 3) == [0, 4, 8]


def test_warmup_indices_errors():
    with pytest.raises(ValueError, match="n_examples"):
        warmup_indices(5, 6)
    with pytest.raises(ValueError, match="n_examples"):
        warmup_indices(5, 0)
    with pytest.raises(ValueError, match="n_items"):
        warmup_indices(0, 1)
    with pytest.raises(TypeError, match="n_examples"):
        warmup_indices(5, 2.0)


# -- warmup_batches ------------------------------------------------------------------------


def test_warmup_batches_sizes_and_audio():
    dataset, synth = TinyDataset(12), TinySynth()
    theta_kw, synth_kw = warmup_batches(dataset, synth, n_examples=7, batch_size=3)
    assert [kw["x"].shape for kw in theta_kw] == [(3, 1, N), (3, 1, N), (1, 1, N)]
    assert len(synth_kw) == 3
    idxs = warmup_indices(12, 7)
    flat_x = torch.cat([kw["x"] for kw in theta_kw])
    flat_seed_hat = torch.cat([kw["seed"] for kw in synth_kw])
    for row, i in enumerate(idxs):
        item = dataset[i]
        expected = synth(item["theta"][None], item["seed"][None])
        assert torch.equal(flat_x[row : row + 1], expected)
        assert flat_seed_hat[row] == item["seed_hat"]
    assert flat_seed_hat.dtype == torch.int64
    assert all(not kw["x"].requires_grad for kw in theta_kw)
    assert set(theta_kw[0]) == {"x"} and set(synth_kw[0]) == {"seed"}


def test_warmup_batches_theta_grid_items():
    grid = ThetaGrid(n_per_dim=3, n_dims=N_THETA, n_seeds=2, fractions=(1.0, 0.0, 0.0))
    dataset = ThetaGridDataset(grid, "train")
    theta_kw, synth_kw = warmup_batches(dataset, TinySynth(), n_examples=5, batch_size=4)
    assert [kw["x"].shape[0] for kw in theta_kw] == [4, 1]
    seeds_hat = torch.cat([kw["seed"] for kw in synth_kw])
    expected = [dataset[i]["seed_hat"] for i in warmup_indices(len(dataset), 5)]
    assert seeds_hat.tolist() == [int(s) for s in expected]


def test_warmup_batches_errors():
    dataset, synth = TinyDataset(4), TinySynth()
    with pytest.raises(ValueError, match="n_examples"):
        warmup_batches(dataset, synth, n_examples=5, batch_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        warmup_batches(dataset, synth, n_examples=2, batch_size=0)
    with pytest.raises(TypeError, match="dataset"):
        warmup_batches(object(), synth, n_examples=2, batch_size=2)
    with pytest.raises(ValueError, match="seed_hat"):
        warmup_batches([{"theta": torch.zeros(2), "seed": 0}], synth, 1, 1)


# -- run_theta_is --------------------------------------------------------------------------


def test_run_theta_is_sets_probs_resumes_and_restores_modes(tmp_path, hvp_counter):
    loss = make_loss(min_prob_frac=0.2)
    encoder, synth, dataset = TinyEncoder(), TinySynth(), TinyDataset(12)
    encoder.train()
    encoder.net[0].eval()  # a submodule deliberately in eval mode stays so
    synth.train()
    probs = run_theta_is(loss, encoder, synth, dataset, 4, 2, tmp_path, n_iter=3)
    assert hvp_counter == list(range(loss.n_paths))  # one power iteration run per path

    assert probs is not None and probs.shape == (loss.n_paths,)
    assert torch.equal(probs, loss.probs)
    assert math.isclose(float(probs.sum()), 1.0, rel_tol=0, abs_tol=1e-12)
    assert float(probs.max() - probs.min()) > 1e-3  # not uniform
    # probs.pt holds π before the floor; the loss applies min_prob_frac f: (1 - f) π + f / P.
    saved = torch.load(tmp_path / PROBS_NAME, weights_only=True)
    f, n_paths = 0.2, loss.n_paths
    torch.testing.assert_close(probs, (1 - f) * saved + f / n_paths, rtol=0, atol=1e-15)
    # Modes restored, per submodule.
    assert encoder.training and not encoder.net[0].training and encoder.net[2].training
    assert synth.training

    # Same save_dir: every value is read back, no new power iteration, same π.
    hvp_counter.clear()
    other = make_loss(min_prob_frac=0.2)
    assert torch.equal(run_theta_is(other, encoder, synth, dataset, 4, 2, tmp_path, 3), probs)
    assert hvp_counter == []
    assert torch.equal(other.probs, probs)


def test_run_theta_is_partial_then_complete(tmp_path, hvp_counter):
    loss = make_loss()
    encoder, synth, dataset = TinyEncoder(), TinySynth(), TinyDataset(6)
    uniform = loss.probs.clone()
    assert run_theta_is(loss, encoder, synth, dataset, 2, 2, tmp_path, 2, end_path_idx=2) is None
    assert torch.equal(loss.probs, uniform) and not (tmp_path / PROBS_NAME).exists()
    assert hvp_counter == [0, 1]
    hvp_counter.clear()
    assert run_theta_is(loss, encoder, synth, dataset, 2, 2, tmp_path, 2) is not None
    assert hvp_counter == list(range(2, loss.n_paths))  # resumed where it stopped
    assert (tmp_path / PROBS_NAME).exists()


def test_run_theta_is_refuses_nondeterministic_encoder(tmp_path, loss, caplog):
    encoder = AlwaysDropoutEncoder()
    encoder.train()
    with caplog.at_level(logging.WARNING), pytest.raises(RuntimeError, match="deterministic"):
        run_theta_is(loss, encoder, TinySynth(), TinyDataset(4), 2, 2, tmp_path, n_iter=1)
    assert "theta_fn is not deterministic" in caplog.text
    assert encoder.training  # restored on the error path too
    assert not any(tmp_path.iterdir())  # refused before any file was written


def test_run_theta_is_argument_errors(tmp_path, loss):
    encoder, synth, dataset = TinyEncoder(), TinySynth(), TinyDataset(4)
    with pytest.raises(TypeError, match="warmup_lc_hvp"):
        run_theta_is(nn.L1Loss(), encoder, synth, dataset, 2, 2, tmp_path)
    with pytest.raises(TypeError, match="encoder"):
        run_theta_is(loss, lambda x: x, synth, dataset, 2, 2, tmp_path)
    frozen = TinyEncoder().requires_grad_(False)
    with pytest.raises(ValueError, match="trainable"):
        run_theta_is(loss, frozen, synth, dataset, 2, 2, tmp_path)


# -- the callback in a real Lightning fit --------------------------------------------------


class TinyModule(pl.LightningModule):
    def __init__(self, loss: nn.Module) -> None:
        super().__init__()
        self.synth = TinySynth()
        self.encoder = TinyEncoder()
        self.loss = loss

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        with torch.no_grad():
            x = self.synth(batch["theta"], batch["seed"])
        x_hat = self.synth(self.encoder(x), batch["seed_hat"])
        return self.loss(x_hat, x)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.encoder.parameters(), lr=1e-3)


class TinyDataModule(pl.LightningDataModule):
    def __init__(self) -> None:
        super().__init__()
        self.train_dataset = None
        self.setup_stages: list[str] = []

    def setup(self, stage: str) -> None:
        # Built in setup: also checks that Lightning calls it before on_fit_start.
        self.setup_stages.append(stage)
        self.train_dataset = TinyDataset(8)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_dataset, batch_size=2)


def make_trainer(tmp_path, callback: ThetaIS, max_steps: int = 1) -> pl.Trainer:
    return pl.Trainer(
        max_steps=max_steps,
        accelerator="cpu",
        devices=1,
        callbacks=[callback],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )


@pytest.fixture
def run_counter(monkeypatch):
    calls = []
    real = callback_mod.run_theta_is

    def counting(*args, **kwargs):
        calls.append(kwargs.get("save_dir"))
        return real(*args, **kwargs)

    monkeypatch.setattr(callback_mod, "run_theta_is", counting)
    return calls


def test_callback_fit_runs_warmup_then_resume_skips(tmp_path, run_counter):
    warm_dir = tmp_path / "warmup"
    module, dm = TinyModule(make_loss()), TinyDataModule()
    trainer = make_trainer(tmp_path, ThetaIS(str(warm_dir), n_examples=4, batch_size=2, n_iter=2))
    trainer.fit(module, datamodule=dm)
    assert run_counter == [warm_dir]
    assert dm.setup_stages == ["fit"]
    saved = torch.load(warm_dir / PROBS_NAME, weights_only=True)
    torch.testing.assert_close(module.loss.probs, saved / saved.sum(), rtol=0, atol=1e-15)
    assert float(saved.max() - saved.min()) > 1e-3
    assert module.encoder.training  # handed back to training in train mode
    ckpt = tmp_path / "step1.ckpt"
    trainer.save_checkpoint(ckpt)

    # Resume in a fresh process-like setting: new module (uniform π), new warmup dir.
    run_counter.clear()
    resumed = TinyModule(make_loss())
    other_dir = tmp_path / "warmup_resumed"
    trainer = make_trainer(tmp_path, ThetaIS(str(other_dir), 4, 2, n_iter=2), max_steps=2)
    trainer.fit(resumed, datamodule=TinyDataModule(), ckpt_path=ckpt)
    assert run_counter == [] and not other_dir.exists()
    assert torch.equal(resumed.loss.probs, module.loss.probs)  # from the checkpoint


def test_callback_skips_when_probs_path_set(tmp_path, run_counter, caplog):
    probs = torch.linspace(1.0, 2.0, make_loss().n_paths, dtype=torch.float64)
    torch.save(probs, tmp_path / "given.pt")
    module = TinyModule(make_loss(probs_path=str(tmp_path / "given.pt")))
    with caplog.at_level(logging.INFO, logger=callback_mod.__name__):
        make_trainer(tmp_path, ThetaIS(tmp_path / "w", 4, 2, n_iter=2)).fit(
            module, datamodule=TinyDataModule()
        )
    assert run_counter == [] and not (tmp_path / "w").exists()
    assert "already loaded" in caplog.text
    torch.testing.assert_close(module.loss.probs, probs / probs.sum(), rtol=0, atol=1e-15)


def test_callback_skips_loss_without_warmup(tmp_path, run_counter, caplog):
    class PlainLoss(nn.Module):
        def forward(self, x_hat: Tensor, x: Tensor) -> Tensor:
            return (x_hat - x).abs().mean()

    with caplog.at_level(logging.INFO, logger=callback_mod.__name__):
        make_trainer(tmp_path, ThetaIS(tmp_path / "w", 4, 2)).fit(
            TinyModule(PlainLoss()), datamodule=TinyDataModule()
        )
    assert run_counter == [] and not (tmp_path / "w").exists()
    assert "no warmup_lc_hvp" in caplog.text


def test_callback_ddp_ranks_reload_the_shared_probs(tmp_path, monkeypatch):
    """world_size > 1: after the warmup, a barrier, then π from the one final probs.pt."""
    events = []
    strategy = SimpleNamespace(barrier=lambda name=None: events.append(("barrier", name)))
    dm = TinyDataModule()
    dm.setup("fit")
    trainer = SimpleNamespace(ckpt_path=None, world_size=2, strategy=strategy, datamodule=dm)
    module = TinyModule(make_loss())
    # Another rank wrote the final probs.pt (here: different values): every rank must use it.
    other = torch.linspace(1.0, 3.0, module.loss.n_paths, dtype=torch.float64)

    def run_then_other_rank_writes(*args, **kwargs):
        probs = run_theta_is(*args, **kwargs)
        torch.save(other, tmp_path / PROBS_NAME)
        return probs

    monkeypatch.setattr(callback_mod, "run_theta_is", run_then_other_rank_writes)
    ThetaIS(tmp_path, 4, 2, n_iter=1).on_fit_start(trainer, module)
    assert events == [("barrier", "theta_is_warmup")]
    torch.testing.assert_close(module.loss.probs, other / other.sum(), rtol=0, atol=1e-15)


def test_callback_argument_errors():
    with pytest.raises(ValueError, match="n_examples"):
        ThetaIS("w", n_examples=0, batch_size=2)
    with pytest.raises(TypeError, match="batch_size"):
        ThetaIS("w", n_examples=2, batch_size=2.5)
    with pytest.raises(ValueError, match="n_iter"):
        ThetaIS("w", 2, 2, n_iter=0)
    with pytest.raises(TypeError, match="save_dir"):
        ThetaIS(None, 2, 2)


def test_theta_fn_calls_encoder_positionally(tmp_path, loss, monkeypatch):
    """warmup_lc_hvp calls theta_fn(x=...); the encoder's argument is named ``audio``."""
    seen = []

    def spy(**kwargs):
        seen.append(kwargs)
        return None

    monkeypatch.setattr(loss, "warmup_lc_hvp", spy)
    encoder = TinyEncoder()
    run_theta_is(loss, encoder, TinySynth(), TinyDataset(4), 2, 2, tmp_path, n_iter=1)
    (kw,) = seen
    x = kw["theta_fn_kwargs"][0]["x"]
    encoder.eval()  # run_theta_is handed it back in train mode (dropout on)
    assert torch.equal(kw["theta_fn"](x=x), encoder(x))
    assert kw["target_key"] == "x" and kw["params"] == list(encoder.parameters())
    assert kw["start_path_idx"] == 0 and kw["end_path_idx"] is None and kw["theta_idxs"] is None
