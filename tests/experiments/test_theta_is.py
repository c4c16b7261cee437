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
import experiments.theta_is_ranks as ranks_mod
from experiments.callbacks.theta_is import ThetaIS
from experiments.data.recon_seeds import reconstruction_seeds
from experiments.theta_is import prepare_warmup, run_theta_is, warmup_batches
from scrapl import SCRAPLLoss
from scrapl.warmup.store import PROBS_NAME

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

    def bands(self, audio: Tensor) -> Tensor:
        mag = torch.fft.rfft(audio.squeeze(1)).abs()[:, : N // 2]
        return torch.log1p(mag.reshape(mag.shape[0], 16, -1).mean(-1))

    def forward(self, audio: Tensor) -> Tensor:
        return self.net(self.bands(audio))


class AlwaysDropoutEncoder(TinyEncoder):
    """Dropout that ignores eval mode: not deterministic (16 features per example, so two
    calls never draw the same mask in practice)."""

    def forward(self, audio: Tensor) -> Tensor:
        return self.net(nn.functional.dropout(self.bands(audio), p=0.5, training=True))


class TinyDataset(Dataset):
    """Items as in ThetaGridDataset: theta (n_theta,), seed / point int64."""

    def __init__(self, n: int = 12) -> None:
        self.theta = torch.rand(n, N_THETA, generator=torch.Generator().manual_seed(1))

    def __len__(self) -> int:
        return self.theta.shape[0]

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return {
            "theta": self.theta[i].clone(),
            "seed": torch.tensor(i, dtype=torch.int64),
            "point": torch.tensor(i, dtype=torch.int64),
        }


def tiny_order(n: int) -> list[int]:
    return torch.randperm(n, generator=torch.Generator().manual_seed(5)).tolist()


def prepare(loss, encoder, synth, dataset, n_examples, batch_size, cache_dir, **kwargs):
    kw = dict(run_seed=0, label="tiny", n_iter=2)
    kw.update(kwargs)
    order = kw.pop("order", tiny_order(len(dataset)))
    return prepare_warmup(
        loss, encoder, synth, dataset, order, n_examples=n_examples, batch_size=batch_size,
        cache_dir=cache_dir, **kw,
    )  # fmt: skip


@pytest.fixture(scope="module")
def loss() -> SCRAPLLoss:
    return make_loss()


@pytest.fixture
def hvp_counter(monkeypatch):
    """Count the library's per-path power iterations (its only expensive call)."""
    import scrapl.warmup.theta_is as warmup

    calls = []
    real = warmup.path_batch_eigenvalues

    def counting(*args, **kwargs):
        calls.append(args[5])  # path_idx
        return real(*args, **kwargs)

    monkeypatch.setattr(warmup, "path_batch_eigenvalues", counting)
    return calls


# -- warmup_batches ------------------------------------------------------------------------


def test_warmup_batches_are_the_first_training_batches():
    dataset, synth = TinyDataset(12), TinySynth()
    order = tiny_order(12)
    theta_kw, synth_kw = warmup_batches(dataset, synth, order, 7, 3, run_seed=4)
    assert [kw["x"].shape for kw in theta_kw] == [(3, 1, N), (3, 1, N), (1, 1, N)]
    flat_x = torch.cat([kw["x"] for kw in theta_kw])
    flat_seed_hat = torch.cat([kw["seed"] for kw in synth_kw])
    seeds = torch.tensor(order[:7])  # TinyDataset's target seed is the index
    # The reconstruction seeds are those of the training step of epoch 0.
    assert torch.equal(flat_seed_hat, reconstruction_seeds(4, "train", 0, seeds))
    for row, i in enumerate(order[:7]):
        item = dataset[i]
        assert torch.equal(flat_x[row : row + 1], synth(item["theta"][None], item["seed"][None]))
    assert all(not kw["x"].requires_grad for kw in theta_kw)
    assert set(theta_kw[0]) == {"x"} and set(synth_kw[0]) == {"seed"}


def test_warmup_batches_errors():
    dataset, synth = TinyDataset(4), TinySynth()
    with pytest.raises(ValueError, match="n_examples"):
        warmup_batches(dataset, synth, range(4), 5, 2, 0)
    with pytest.raises(ValueError, match="batch_size"):
        warmup_batches(dataset, synth, range(4), 2, 0, 0)
    with pytest.raises(TypeError, match="dataset"):
        warmup_batches(object(), synth, range(4), 2, 2, 0)
    with pytest.raises(ValueError, match="seed"):
        warmup_batches([{"theta": torch.zeros(2)}], synth, [0], 1, 1, 0)


# -- prepare_warmup: one directory per set-up ------------------------------------------------


def test_warmup_dir_is_keyed_by_what_determines_the_result(tmp_path, loss):
    dataset, synth = TinyDataset(8), TinySynth()
    base = prepare(loss, TinyEncoder(), synth, dataset, 4, 2, tmp_path)
    assert base.save_dir.parent == tmp_path and base.save_dir.name.startswith("tiny_")
    again = prepare(loss, TinyEncoder(), TinySynth(), TinyDataset(8), 4, 2, tmp_path)
    assert again.save_dir == base.save_dir  # same set-up, rebuilt from scratch: same folder
    changed = {
        "encoder weights": prepare(loss, TinyEncoder(seed=1), synth, dataset, 4, 2, tmp_path),
        "n_iter": prepare(loss, TinyEncoder(), synth, dataset, 4, 2, tmp_path, n_iter=3),
        "examples": prepare(loss, TinyEncoder(), synth, dataset, 6, 2, tmp_path),
        "order": prepare(loss, TinyEncoder(), synth, dataset, 4, 2, tmp_path, order=range(8)),
        "run seed": prepare(loss, TinyEncoder(), synth, dataset, 4, 2, tmp_path, run_seed=1),
        "encoder config": prepare(loss, TinyEncoder(dropout=0.1), synth, dataset, 4, 2, tmp_path),
        "loss": prepare(make_loss(J_fr=2), TinyEncoder(), synth, dataset, 4, 2, tmp_path),
    }
    names = {k: v.save_dir.name for k, v in changed.items()}
    assert base.save_dir.name not in names.values(), names
    assert len(set(names.values())) == len(names), names
    assert not any(tmp_path.iterdir())  # preparing writes nothing


def test_prepare_warmup_argument_errors(tmp_path, loss):
    encoder, synth, dataset = TinyEncoder(), TinySynth(), TinyDataset(4)
    with pytest.raises(TypeError, match="warmup_lc_hvp"):
        prepare(nn.L1Loss(), encoder, synth, dataset, 2, 2, tmp_path)
    with pytest.raises(TypeError, match="encoder"):
        prepare(loss, lambda x: x, synth, dataset, 2, 2, tmp_path)
    with pytest.raises(ValueError, match="trainable"):
        prepare(loss, TinyEncoder().requires_grad_(False), synth, dataset, 2, 2, tmp_path)
    with pytest.raises(ValueError, match="label"):
        prepare(loss, encoder, synth, dataset, 2, 2, tmp_path, label="a/b")


# -- run_theta_is --------------------------------------------------------------------------


def test_run_theta_is_sets_probs_resumes_and_restores_modes(tmp_path, hvp_counter):
    loss = make_loss(min_prob_frac=0.2)
    encoder, synth, dataset = TinyEncoder(), TinySynth(), TinyDataset(12)
    encoder.train()
    encoder.net[0].eval()  # a submodule deliberately in eval mode stays so
    synth.train()
    warm = prepare(loss, encoder, synth, dataset, 4, 2, tmp_path, n_iter=3)
    probs = run_theta_is(loss, encoder, synth, warm, n_iter=3)
    assert hvp_counter == list(range(loss.n_paths))  # one power iteration run per path

    assert probs is not None and probs.shape == (loss.n_paths,)
    assert torch.equal(probs, loss.probs)
    assert math.isclose(float(probs.sum()), 1.0, rel_tol=0, abs_tol=1e-12)
    assert float(probs.max() - probs.min()) > 1e-3  # not uniform
    # probs.pt holds π before the floor; the loss applies min_prob_frac f: (1 - f) π + f / P.
    saved = torch.load(warm.save_dir / PROBS_NAME, weights_only=True)
    f, n_paths = 0.2, loss.n_paths
    torch.testing.assert_close(probs, (1 - f) * saved + f / n_paths, rtol=0, atol=1e-15)
    # Modes restored, per submodule.
    assert encoder.training and not encoder.net[0].training and encoder.net[2].training
    assert synth.training

    # Same set-up: every value is read back, no new power iteration, same π.
    hvp_counter.clear()
    other = make_loss(min_prob_frac=0.2)
    warm2 = prepare(other, encoder, synth, dataset, 4, 2, tmp_path, n_iter=3)
    assert warm2.save_dir == warm.save_dir
    assert torch.equal(run_theta_is(other, encoder, synth, warm2, n_iter=3), probs)
    assert hvp_counter == []
    assert torch.equal(other.probs, probs)


def test_run_theta_is_partial_then_complete(tmp_path, hvp_counter):
    loss = make_loss()
    encoder, synth, dataset = TinyEncoder(), TinySynth(), TinyDataset(6)
    uniform = loss.probs.clone()
    warm = prepare(loss, encoder, synth, dataset, 2, 2, tmp_path)
    assert run_theta_is(loss, encoder, synth, warm, 2, end_path_idx=2) is None
    assert torch.equal(loss.probs, uniform) and not (warm.save_dir / PROBS_NAME).exists()
    assert hvp_counter == [0, 1]
    hvp_counter.clear()
    assert run_theta_is(loss, encoder, synth, warm, 2) is not None
    assert hvp_counter == list(range(2, loss.n_paths))  # resumed where it stopped
    assert (warm.save_dir / PROBS_NAME).exists()


def test_run_theta_is_refuses_nondeterministic_encoder(tmp_path, loss, caplog):
    torch.manual_seed(0)  # the dropout masks come from the global RNG
    encoder = AlwaysDropoutEncoder()
    encoder.train()
    warm = prepare(loss, encoder, TinySynth(), TinyDataset(4), 2, 2, tmp_path)
    with caplog.at_level(logging.WARNING), pytest.raises(RuntimeError, match="deterministic"):
        run_theta_is(loss, encoder, TinySynth(), warm, n_iter=1)
    assert "theta_fn is not deterministic" in caplog.text
    assert encoder.training  # restored on the error path too
    assert not tmp_path.exists() or not any(tmp_path.iterdir())  # refused before any file


# -- the callback in a real Lightning fit --------------------------------------------------


class TinyModule(pl.LightningModule):
    def __init__(self, loss: nn.Module) -> None:
        super().__init__()
        self.synth = TinySynth()
        self.encoder = TinyEncoder()
        self.loss = loss
        self.seed = 0

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        with torch.no_grad():
            x = self.synth(batch["theta"], batch["seed"])
        x_hat = self.synth(self.encoder(x), batch["seed"] + 1000)
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

    def train_order(self, epoch: int) -> list[int]:
        return tiny_order(len(self.train_dataset))

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


def make_callback(tmp_path, run: str = "run", n_iter: int = 2) -> ThetaIS:
    return ThetaIS(tmp_path / "cache", "tiny", tmp_path / run / "theta_is", 4, 2, n_iter=n_iter)


@pytest.fixture
def run_counter(monkeypatch):
    calls = []
    real = ranks_mod.run_theta_is

    def counting(*args, **kwargs):
        calls.append(args[3].save_dir)
        return real(*args, **kwargs)

    monkeypatch.setattr(ranks_mod, "run_theta_is", counting)
    return calls


def test_callback_fit_warms_up_in_the_cache_then_reuses_it(tmp_path, run_counter, hvp_counter):
    module, dm = TinyModule(make_loss()), TinyDataModule()
    trainer = make_trainer(tmp_path, make_callback(tmp_path))
    trainer.fit(module, datamodule=dm)
    (warm_dir,) = run_counter
    assert warm_dir.parent == tmp_path / "cache" and warm_dir.name.startswith("tiny_")
    assert dm.setup_stages == ["fit"]
    saved = torch.load(warm_dir / PROBS_NAME, weights_only=True)
    torch.testing.assert_close(module.loss.probs, saved / saved.sum(), rtol=0, atol=1e-15)
    assert float(saved.max() - saved.min()) > 1e-3
    assert module.encoder.training  # handed back to training in train mode
    # The run folder keeps a copy and says where it came from.
    run_dir = tmp_path / "run" / "theta_is"
    assert (run_dir / PROBS_NAME).read_bytes() == (warm_dir / PROBS_NAME).read_bytes()
    assert (run_dir / "warmup_dir.txt").read_text().strip() == str(warm_dir.resolve())
    assert hvp_counter == list(range(module.loss.n_paths))

    # A new run of the same set-up (another run folder) reuses the cache: no power iteration.
    hvp_counter.clear()
    again = TinyModule(make_loss())
    make_trainer(tmp_path, make_callback(tmp_path, run="run2")).fit(
        again, datamodule=TinyDataModule()
    )
    assert run_counter == [warm_dir, warm_dir] and hvp_counter == []
    assert torch.equal(again.loss.probs, module.loss.probs)
    ckpt = tmp_path / "step1.ckpt"
    trainer.save_checkpoint(ckpt)

    # Resume: π comes from the checkpoint, the warmup is not even prepared.
    run_counter.clear()
    resumed = TinyModule(make_loss())
    trainer = make_trainer(tmp_path, make_callback(tmp_path, run="run3"), max_steps=2)
    trainer.fit(resumed, datamodule=TinyDataModule(), ckpt_path=ckpt)
    assert run_counter == [] and not (tmp_path / "run3").exists()
    assert torch.equal(resumed.loss.probs, module.loss.probs)


def test_callback_skips_when_probs_path_set(tmp_path, run_counter, caplog):
    probs = torch.linspace(1.0, 2.0, make_loss().n_paths, dtype=torch.float64)
    torch.save(probs, tmp_path / "given.pt")
    module = TinyModule(make_loss(probs_path=str(tmp_path / "given.pt")))
    with caplog.at_level(logging.INFO, logger=callback_mod.__name__):
        make_trainer(tmp_path, make_callback(tmp_path)).fit(module, datamodule=TinyDataModule())
    assert run_counter == [] and not (tmp_path / "cache").exists()
    assert "already loaded" in caplog.text
    torch.testing.assert_close(module.loss.probs, probs / probs.sum(), rtol=0, atol=1e-15)


def test_callback_skips_loss_without_warmup(tmp_path, run_counter, caplog):
    class PlainLoss(nn.Module):
        def forward(self, x_hat: Tensor, x: Tensor) -> Tensor:
            return (x_hat - x).abs().mean()

    with caplog.at_level(logging.INFO, logger=callback_mod.__name__):
        make_trainer(tmp_path, make_callback(tmp_path)).fit(
            TinyModule(PlainLoss()), datamodule=TinyDataModule()
        )
    assert run_counter == [] and not (tmp_path / "cache").exists()
    assert "no warmup_lc_hvp" in caplog.text


def test_callback_ddp_rank_uses_rank0_folder_and_its_probs(tmp_path, hvp_counter):
    """world_size > 1, rank 1 whose own folder name differs: it takes rank
    0's folder from the broadcast, computes only its path range on the batches rank 0 wrote
    there, waits for the other values on disk and loads rank 0's probs.pt."""
    n = make_loss().n_paths
    # Rank 0's side, done beforehand: its folder, its batches, its range, then the merge.
    rank0 = TinyModule(make_loss())
    dm = TinyDataModule()
    dm.setup("fit")
    cb = make_callback(tmp_path, n_iter=1)
    warm0 = prepare(rank0.loss, rank0.encoder, rank0.synth, dm.train_dataset, cb.n_examples,
                    cb.batch_size, cb.cache_dir, order=dm.train_order(0), n_iter=1)  # fmt: skip
    run_theta_is(rank0.loss, rank0.encoder, rank0.synth, warm0, 1, 0, n // 2)
    run_theta_is(rank0.loss, rank0.encoder, rank0.synth, warm0, 1, n // 2, n)
    hvp_counter.clear()
    broadcasts = []

    def broadcast(obj, src=0):
        broadcasts.append(obj)
        return {0: str(warm0.save_dir), 2: broadcasts[-1]}.get(len(broadcasts) - 1, obj)

    strategy = SimpleNamespace(broadcast=broadcast, reduce_boolean_decision=lambda f, all: f)
    trainer = SimpleNamespace(
        ckpt_path=None, world_size=2, global_rank=1, strategy=strategy, datamodule=dm,
        is_global_zero=False,
    )  # fmt: skip
    module = TinyModule(make_loss())
    # Another folder name of its own (here its label): rank 0's folder must win.
    ThetaIS(
        tmp_path / "cache", "rank1", tmp_path / "run" / "theta_is", 4, 2, n_iter=1
    ).on_fit_start(trainer, module)
    assert hvp_counter == []  # rank 1's range [n // 2, n) was on disk already
    assert torch.equal(module.loss.probs, rank0.loss.probs)
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [warm0.save_dir.name]
    assert not (tmp_path / "run").exists()  # only rank 0 writes into the run folder


def test_wait_for_values_times_out_naming_the_missing(tmp_path):
    with pytest.raises(TimeoutError, match=r"6 of 6 \(path, θ\) values still missing"):
        ranks_mod.wait_for_values(tmp_path, 3, 2, timeout_s=0.05, poll_s=0.01)


def test_callback_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="n_examples"):
        ThetaIS("c", "l", "r", n_examples=0, batch_size=2)
    with pytest.raises(TypeError, match="batch_size"):
        ThetaIS("c", "l", "r", n_examples=2, batch_size=2.5)
    with pytest.raises(ValueError, match="n_iter"):
        ThetaIS("c", "l", "r", 2, 2, n_iter=0)
    with pytest.raises(TypeError, match="cache_dir"):
        ThetaIS(None, "l", "r", 2, 2)
    with pytest.raises(TypeError, match="run_dir"):
        ThetaIS("c", "l", "", 2, 2)


def test_theta_fn_calls_encoder_positionally(tmp_path, loss, monkeypatch):
    """warmup_lc_hvp calls theta_fn(x=...); the encoder's argument is named ``audio``."""
    seen = []

    def spy(**kwargs):
        seen.append(kwargs)
        return None

    monkeypatch.setattr(loss, "warmup_lc_hvp", spy)
    encoder = TinyEncoder()
    warm = prepare(loss, encoder, TinySynth(), TinyDataset(4), 2, 2, tmp_path, n_iter=1)
    run_theta_is(loss, encoder, TinySynth(), warm, n_iter=1)
    (kw,) = seen
    x = kw["theta_fn_kwargs"][0]["x"]
    encoder.eval()  # run_theta_is handed it back in train mode (dropout on)
    assert torch.equal(kw["theta_fn"](x=x), encoder(x))
    assert kw["target_key"] == "x" and kw["params"] == list(encoder.parameters())
    assert kw["start_path_idx"] == 0 and kw["end_path_idx"] is None and kw["theta_idxs"] is None
    assert kw["save_dir"] == warm.save_dir
