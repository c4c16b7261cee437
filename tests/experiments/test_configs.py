"""The Hydra configs (configs/): composition, the paper's values, instantiation, early errors.

Every θ-grid experiment (granular, chirplet; TR-808: test_configs_tr808.py) x loss is
composed under the paper preset and the key facts are checked on the resolved config (quick
and tiny: a diagonal covering every experiment and every loss by default, the full products
under ``-m slow``); every distinct object config of the tiny preset is instantiated (and run
once on a sound of the matching length), the paper-size losses of the granular experiment are
built once each, loggers and trainers compose and instantiate offline, and bad overrides are
shown to fail before any training step.
"""

from __future__ import annotations

import csv
import math
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import hydra
import lightning.pytorch as pl
import pytest
import torch
from conftest import CONFIG_DIR, FAST_RUN, GRID_EXPERIMENTS, LOGGERS, LOSSES, TRAINERS, Built
from hydra.errors import ConfigCompositionException
from omegaconf import DictConfig, OmegaConf
from torch import nn

from experiments.csv_logger import ContinuingCSVLogger
from experiments.module import SoundMatching
from experiments.run_dirs import RUN_NAME_VARIABLE

PRESETS = ["cpu", "paper", "quick", "tiny"]
# The θ-grid experiments (the TR-808 ones: test_configs_tr808.py).
EXPERIMENTS = GRID_EXPERIMENTS
CHIRPLETS = [e for e in EXPERIMENTS if e.startswith("chirplet")]

SCRAPL = "scrapl.SCRAPLLoss"
SCRAPL_TIME = "scrapl.Scattering1DSCRAPLLoss"
JTFS = "scrapl.JTFSLoss"
# Every loss that draws one path per step (a path sampler, P-Adam / P-SAGA, θ-IS).
RANDOM_PATH = (SCRAPL, SCRAPL_TIME)
LOSS_TARGETS = {
    "jtfs": JTFS,
    "mss_linear": "auraloss.freq.MultiResolutionSTFTLoss",
    "mss_log_linear": "auraloss.freq.MultiResolutionSTFTLoss",
    "mss_random": "auraloss.freq.RandomResolutionSTFTLoss",
    "mss_revisited": "experiments.losses.mss_revisited.MSSRevisitedLoss",
    "mss_sc_log": "auraloss.freq.MultiResolutionSTFTLoss",
    "ploss": "experiments.losses.theta_loss.ThetaLoss",
    "scrapl": SCRAPL,
    "scrapl_no_theta_is": SCRAPL,
    "scrapl_p_adam": SCRAPL,
    "scrapl_plain": SCRAPL,
    "scrapl_time": SCRAPL_TIME,
}
# The paper: P-Adam keeps Adam moments per path, so the optimizer must be plain SGD.
P_ADAM_LOSSES = {"scrapl", "scrapl_no_theta_is", "scrapl_p_adam", "scrapl_time"}
# The losses whose runs start with the θ-IS warmup callback.
THETA_IS_LOSSES = {"scrapl", "scrapl_time"}
# (use_p_adam, use_p_saga) of the SCRAPL variants.
PATHWISE = {
    "scrapl": (True, True),
    "scrapl_no_theta_is": (True, True),
    "scrapl_p_adam": (True, False),
    "scrapl_plain": (False, False),
    "scrapl_time": (True, True),
}
JTFS_KEYS = ("J", "Q1", "Q2", "J_fr", "Q_fr", "T", "F")
# Time scattering takes the JTFS's temporal part.
TIME_KEYS = ("J", "Q1", "Q2", "T")
PAPER_JTFS = dict(J=12, Q1=8, Q2=2, J_fr=3, Q_fr=2, T=4096, F=8)
# AM (Hz) and FM (oct/s) ranges of the four published chirplet runs (the paper's set-up).
CHIRPLET_RANGES = {
    "chirplet_am_lo_fm_lo": ([0.9899, 1.9799], [0.5, 1.0]),
    "chirplet_am_lo_fm_med": ([0.9899, 1.9799], [2.0, 4.0]),
    "chirplet_am_hi_fm_med": ([3.9598, 7.9196], [2.0, 4.0]),
    "chirplet_am_hi_fm_hi": ([3.9598, 7.9196], [8.0, 16.0]),
}


def preset_values(preset: str, synth: str = "granular") -> dict[str, object]:
    """The dotted keys a preset sets for a synth, and their values
    (configs/preset_values/<preset>_<synth>.yaml)."""
    out: dict[str, object] = {}

    def walk(node: dict, prefix: str) -> None:
        for k, v in node.items():
            if isinstance(v, dict):
                walk(v, f"{prefix}{k}.")
            else:
                out[f"{prefix}{k}"] = v

    path = CONFIG_DIR / "preset_values" / f"{preset}_{synth}.yaml"
    walk(OmegaConf.to_container(OmegaConf.load(path)) or {}, "")
    return out


# --------------------------------------------------------------------------- composition


def _base(experiment: str, loss: str, preset: str) -> tuple[str, ...]:
    return (
        f"experiment={experiment}",
        f"loss={loss}",
        f"preset={preset}",
        "trainer=cpu",
        "logger=csv",
    )


def _get(cfg: DictConfig, dotted: str) -> object:
    return OmegaConf.select(cfg, dotted, throw_on_missing=True)


def test_loss_table_covers_every_loss_config() -> None:
    # A new loss config must be added to the tables above (and so to these tests).
    assert set(LOSS_TARGETS) == set(LOSSES)
    assert {n for n, t in LOSS_TARGETS.items() if t in RANDOM_PATH} == set(PATHWISE)
    assert set(PRESETS) == {p.stem for p in (CONFIG_DIR / "preset").glob("*.yaml")}
    # Every preset has values for every synth of the θ-grid experiments.
    values = {p.stem for p in (CONFIG_DIR / "preset_values").glob("*.yaml")}
    assert {f"{p}_{s}" for p in PRESETS for s in ("granular", "chirplet")} <= values
    assert set(CHIRPLET_RANGES) | {"chirplet"} == set(CHIRPLETS)
    assert EXPERIMENTS == sorted(CHIRPLETS + ["granular"])


def _check_common(cfg: DictConfig, experiment: str, loss: str, run_dir: Path) -> None:
    """Facts that hold for every experiment, loss and preset."""
    # Loss class and optimizer (the paper: P-Adam needs plain SGD).
    assert cfg.loss._target_ == LOSS_TARGETS[loss]
    opt = cfg.optimizer
    assert opt._partial_ is True and opt.lr == cfg.lr
    if loss in P_ADAM_LOSSES:
        assert opt._target_ == "torch.optim.SGD"
        assert opt.momentum == 0.0 and opt.nesterov is False
    else:
        assert opt._target_ == "torch.optim.AdamW"
    assert opt.weight_decay == cfg.weight_decay
    # θ-IS warmup callback only for the full SCRAPL set-ups.
    assert (cfg.callbacks.get("theta_is") is not None) == (loss in THETA_IS_LOSSES)
    if loss in THETA_IS_LOSSES:
        tis = cfg.callbacks.theta_is
        assert tis._target_ == "experiments.callbacks.theta_is.ThetaIS"
        assert tis.n_examples == cfg.theta_is.n_examples
        assert tis.batch_size == cfg.data.batch_size and tis.n_iter == cfg.theta_is.n_iter
        assert tis.run_dir == str(run_dir / "theta_is")
        assert tis.cache_dir == cfg.theta_is.cache_dir == f"{cfg.paths.out_dir}/theta_is"
        assert tis.label == f"{experiment}_{cfg.theta_is.label.split('_')[-1]}"
        assert cfg.loss.probs_path is None
    # JTFS parameters come from cfg.jtfs, the length from the synth.
    if cfg.loss._target_ in (SCRAPL, JTFS):
        for k in JTFS_KEYS:
            assert cfg.loss[k] == cfg.jtfs[k], k
        assert cfg.loss.shape == cfg.synth.n_samples
        assert cfg.loss.use_rho_log1p == cfg.jtfs.use_rho_log1p
    if cfg.loss._target_ == SCRAPL_TIME:
        for k in TIME_KEYS:
            assert cfg.loss[k] == cfg.jtfs[k], k
        assert cfg.loss.shape == cfg.synth.n_samples
        assert cfg.loss.use_rho_log1p == cfg.jtfs.use_rho_log1p
        assert cfg.loss.grad_mult == cfg.jtfs.grad_mult
        assert not {"J_fr", "Q_fr", "F"} & set(cfg.loss)
    if cfg.loss._target_ in RANDOM_PATH:
        assert (cfg.loss.use_p_adam, cfg.loss.use_p_saga) == PATHWISE[loss]
        assert cfg.loss.n_theta == cfg.n_theta == len(cfg.theta_names)
        assert cfg.loss.seed == cfg.seed
    if loss == "mss_random":
        # auraloss draws powers of two below max_fft_size and needs N > max_fft_size.
        assert cfg.loss.max_fft_size == cfg.max_fft_size == cfg.synth.n_samples - 1
    # The paper's set-up: gradients x 1e8 before AdamW for the full JTFS and plain SCRAPL only.
    assert cfg.module.grad_mult == (1.0e8 if loss in ("jtfs", "scrapl_plain") else 1.0)
    assert cfg.module.seed == cfg.seed
    # The rest of the run is wired to the experiment.
    assert cfg.experiment_name == experiment
    assert cfg.n_theta == 2 == cfg.model.net.n_theta == cfg.data.n_dims
    assert cfg.model.features.sr == cfg.synth.sr
    assert cfg.data.shuffle_seed == cfg.seed
    assert cfg.module.theta_names == cfg.theta_names
    assert cfg.module.loss == cfg.loss and cfg.module.synth == cfg.synth
    assert cfg.paths.output_dir == str(run_dir)
    assert cfg.trainer.default_root_dir == str(run_dir)
    assert cfg.trainer.accelerator == "cpu" and cfg.trainer.accumulate_grad_batches == 1
    assert cfg.logger.csv.save_dir == str(run_dir)
    assert cfg.callbacks.model_checkpoint.monitor == "val/loss"  # The paper's set-up
    assert cfg.callbacks.model_checkpoint.dirpath == str(run_dir / "checkpoints")
    assert cfg.callbacks.last_checkpoint.filename == "last"
    assert cfg.callbacks.last_checkpoint.monitor is None
    expected_synth = "granular" if experiment == "granular" else "chirplet"
    assert cfg.synth._target_.split(".")[-2] == expected_synth
    if experiment in CHIRPLET_RANGES:
        am, fm = CHIRPLET_RANGES[experiment]
        assert list(cfg.synth.am_range) == am and list(cfg.synth.fm_range) == fm
    elif experiment == "chirplet":  # the base configuration is the first paper range
        assert list(cfg.synth.am_range) == [0.9899, 1.9799]
        assert list(cfg.synth.fm_range) == [0.5, 1.0]


def _check_paper(cfg: DictConfig, experiment: str) -> None:
    for k, v in PAPER_JTFS.items():
        assert cfg.jtfs[k] == v, k
    assert cfg.synth.n_samples == 32768 and cfg.synth.sr == 8192
    assert cfg.data.batch_size == 32
    assert (cfg.data.n_per_dim, cfg.data.n_seeds, cfg.data.n_folds) == (32, 5, 5)
    assert (list(cfg.data.train_folds), list(cfg.data.val_folds)) == ([0, 1, 2], [3])
    assert list(cfg.data.test_folds) == [4] and cfg.data.drop_last is True
    assert cfg.model.net.channels == 128 and cfg.model.net.dropout == 0.5
    assert (cfg.model.net.latent_dim, cfg.model.net.head_hidden) == (64, 32)
    assert cfg.model.features.fmin is None  # 0.4 sr / 2**n_octaves
    if experiment == "granular":
        assert cfg.lr == 1.0e-5 and cfg.optimizer.lr == 1.0e-5
        assert cfg.trainer.max_epochs == 200
        assert cfg.theta_is.n_examples == 320
        assert list(cfg.theta_names) == ["density", "slope"]
    else:
        assert cfg.lr == 1.0e-4 and cfg.optimizer.lr == 1.0e-4
        assert cfg.trainer.max_epochs == 50
        assert cfg.theta_is.n_examples == 32
        assert list(cfg.theta_names) == ["am", "fm"]
    if cfg.loss._target_ in RANDOM_PATH:
        assert cfg.loss.grad_mult == 1.0e8
        assert list(cfg.loss.adam_betas) == [0.9, 0.999]
    if cfg.callbacks.get("theta_is") is not None:
        assert cfg.callbacks.theta_is.n_examples == cfg.theta_is.n_examples


def _check_preset(cfg: DictConfig, preset: str) -> None:
    """Every value the preset sets for the experiment's synth is in the composed config (it
    is applied last)."""
    values = preset_values(preset, cfg.synth._target_.split(".")[-2])
    assert {"synth.n_samples", "lr"} <= set(values)
    for key, value in values.items():
        got = _get(cfg, key)
        got = OmegaConf.to_container(got) if OmegaConf.is_config(got) else got
        if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
            value = _get(cfg, value[2:-1])  # an interpolation: the value it points at
        assert got == value, key
    assert cfg.optimizer.lr == cfg.lr
    if cfg.loss._target_ in (SCRAPL, SCRAPL_TIME, JTFS):
        assert cfg.loss.shape == values["synth.n_samples"]


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_paper_preset(composer, experiment, loss) -> None:
    cfg = composer(*_base(experiment, loss, "paper"))
    run_dir = Path(cfg.paths.output_dir)
    _check_common(cfg, experiment, loss, run_dir)
    _check_paper(cfg, experiment)


def _diagonal() -> list[tuple[str, str]]:
    """Every experiment and every loss at least once, in len(LOSSES) compositions."""
    n = max(len(EXPERIMENTS), len(LOSSES))
    return [(EXPERIMENTS[i % len(EXPERIMENTS)], LOSSES[i % len(LOSSES)]) for i in range(n)]


@pytest.mark.parametrize("preset", ["quick", "cpu"])
@pytest.mark.parametrize("experiment,loss", _diagonal())
def test_quick_and_cpu_presets(composer, experiment, loss, preset) -> None:
    cfg = composer(*_base(experiment, loss, preset))
    _check_common(cfg, experiment, loss, Path(cfg.paths.output_dir))
    _check_preset(cfg, preset)


@pytest.mark.parametrize("preset", ["quick", "cpu", "tiny", "paper"])
@pytest.mark.parametrize("experiment,loss", _diagonal())
def test_cpu_presets_anneal_the_lr_for_every_loss(composer, experiment, loss, preset) -> None:
    # quick and cpu (granular, chirplet): lr to 0 on a half cosine over the epochs, per epoch,
    # whatever the loss; tiny and paper keep the experiment's own (none).
    cfg = composer(*_base(experiment, loss, preset))
    sched = cfg.module.scheduler
    if preset in ("quick", "cpu"):
        assert sched._target_ == "torch.optim.lr_scheduler.CosineAnnealingLR"
        assert sched.T_max == cfg.trainer.max_epochs and sched.eta_min == 0.0
        assert cfg.module.scheduler_interval == "epoch"
    else:
        assert sched is None


@pytest.mark.slow
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_quick_preset_full_product(composer, experiment, loss) -> None:
    cfg = composer(*_base(experiment, loss, "quick"))
    _check_common(cfg, experiment, loss, Path(cfg.paths.output_dir))
    _check_preset(cfg, "quick")


def _check_tiny(cfg: DictConfig, experiment: str, loss: str) -> None:
    _check_common(cfg, experiment, loss, Path(cfg.paths.output_dir))
    _check_preset(cfg, "tiny")


@pytest.mark.parametrize("experiment,loss", _diagonal())
def test_tiny_preset(composer, experiment, loss) -> None:
    _check_tiny(composer(*_base(experiment, loss, "tiny")), experiment, loss)


@pytest.mark.slow
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_tiny_preset_full_product(composer, experiment, loss) -> None:
    _check_tiny(composer(*_base(experiment, loss, "tiny")), experiment, loss)


def test_presets_shrink_the_paper_setup(composer) -> None:
    assert preset_values("paper") == preset_values("paper", "chirplet") == {}  # nothing changes
    paper = composer(*_base("granular", "scrapl", "paper"))
    for preset in ("cpu", "quick", "tiny"):
        cfg = composer(*_base("granular", "scrapl", preset))
        assert cfg.synth.n_samples < paper.synth.n_samples
        # Untouched by the presets: the synth's sound and the paper's seeds / split seed.
        for key in ("synth.sr", "synth.n_grains", "seed", "data.n_folds", "weight_decay"):
            assert _get(cfg, key) == _get(paper, key), (preset, key)
        assert cfg.max_fft_size == cfg.synth.n_samples - 1, preset
        assert cfg.lr == preset_values(preset)["lr"] != paper.lr
    # preset=cpu is preset=quick on the paper's grid (one seed per point), trained longer.
    quick, cpu = preset_values("quick"), preset_values("cpu")
    differ = {k for k in quick.keys() | cpu.keys() if quick.get(k) != cpu.get(k)}
    assert differ == {"data.n_per_dim", "data.n_seeds", "trainer.max_epochs", "theta_is.n_examples",
                      "theta_is.n_iter"}  # fmt: skip
    assert cpu["data.n_per_dim"] == 32


@pytest.mark.parametrize("preset", ["paper", "cpu", "quick"])
def test_chirplet_shift_is_half_the_jtfs_averaging(composer, preset) -> None:
    # The paper's shift (2048) is T / 2 (T = 4096); a smaller preset keeps that ratio, or the
    # misalignment of target and reconstruction swamps what the distance says about theta.
    for experiment in CHIRPLETS:
        cfg = composer(*_base(experiment, "scrapl", preset))
        assert 2 * cfg.synth.max_shift == cfg.jtfs.T == cfg.loss.T, (experiment, preset)
        assert cfg.synth.max_shift < cfg.synth.n_samples / 2


# --------------------------------------------------------------------------- loggers, trainers


# metrics.csv beside every other logger (what the analysis reads); only logger=none drops it.
LOGGER_TYPES = {
    "csv": {"csv": ContinuingCSVLogger},
    "tensorboard": {"csv": ContinuingCSVLogger, "tensorboard": pl.loggers.TensorBoardLogger},
    "wandb": {"csv": ContinuingCSVLogger, "wandb": pl.loggers.WandbLogger},
    "many": {
        "csv": ContinuingCSVLogger,
        "tensorboard": pl.loggers.TensorBoardLogger,
        "wandb": pl.loggers.WandbLogger,
    },
    "none": {},
}


@pytest.fixture
def no_network(monkeypatch, tmp_path) -> Iterator[None]:
    """W&B offline in tmp_path, and any in-process internet connection fails the test."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb"))
    real_connect = socket.socket.connect

    def guarded(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            raise AssertionError(f"network access to {address!r}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(
        socket, "create_connection", lambda *a, **k: pytest.fail(f"network access {a}")
    )
    yield
    import wandb

    if wandb.run is not None:  # a run per test (see test_wandb_run_per_training_run)
        wandb.finish()


def test_logger_table_covers_every_logger_config() -> None:
    assert set(LOGGER_TYPES) == set(LOGGERS)
    assert set(TRAINERS) == {"cpu", "gpu", "ddp", "ddp_cpu"}


@pytest.mark.parametrize("trainer", TRAINERS)
@pytest.mark.parametrize("logger", LOGGERS)
def test_logger_trainer(composer, no_network, logger, trainer) -> None:
    cfg = composer(
        "experiment=granular",
        "loss=scrapl",
        "preset=tiny",
        f"trainer={trainer}",
        f"logger={logger}",
    )
    run_dir = Path(cfg.paths.output_dir)
    expected = LOGGER_TYPES[logger]
    assert set(cfg.logger or {}) == set(expected)
    if "wandb" in expected:
        wb = cfg.logger.wandb
        assert wb.offline is True and wb.log_model is False
        assert wb.name == "granular_scrapl_seed0" and wb.group == "granular/scrapl"
        assert wb.save_dir == str(run_dir)
    # gpu/ddp/ddp_cpu inherit everything from cpu but the devices and the DDP settings.
    cpu = composer("experiment=granular", "loss=scrapl", "preset=tiny", "trainer=cpu", "logger=csv")
    devices = {"cpu": ("cpu", 1), "gpu": ("gpu", 1), "ddp": ("gpu", 2), "ddp_cpu": ("cpu", 2)}
    accelerator = cfg.trainer.accelerator
    if not isinstance(accelerator, str):  # the GPU configs' CUDA accelerator: TF32 chosen
        assert accelerator._target_ == "experiments.matmul_precision.CUDAAccelerator"
        assert accelerator.float32_matmul_precision == "highest"
        accelerator = "gpu"
    assert (accelerator, cfg.trainer.devices) == devices[trainer]
    strategy = cfg.trainer.get("strategy")
    if trainer.startswith("ddp"):  # constant buffers not broadcast; no BatchNorm to sync
        assert strategy.process_group_backend == ("gloo" if trainer == "ddp_cpu" else "nccl")
        assert strategy.broadcast_buffers is False
    else:
        assert strategy is None
    assert cfg.trainer.get("sync_batchnorm", False) is False
    # The data modules shard the data themselves (EpochShuffleSampler); checkpoints are atomic.
    assert cfg.trainer.use_distributed_sampler is False
    assert [p._target_ for p in cfg.trainer.plugins] == [
        "experiments.checkpoint_io.AtomicCheckpointIO"
    ]
    for key, value in cpu.trainer.items():
        if key not in ("accelerator", "devices", "strategy", "sync_batchnorm"):
            assert cfg.trainer[key] == value, key
    if trainer != "cpu":
        return  # no GPU here: compose only
    loggers = [hydra.utils.instantiate(c) for c in (cfg.logger or {}).values() if c is not None]
    assert sorted(type(lg).__name__ for lg in loggers) == sorted(
        t.__name__ for t in expected.values()
    )
    for lg in loggers:
        assert Path(lg.save_dir).is_relative_to(run_dir)
        if isinstance(lg, pl.loggers.WandbLogger):
            assert lg._offline is True
            assert lg._experiment is None  # lazy: nothing started, nothing sent
    trainer_obj = hydra.utils.instantiate(cfg.trainer, logger=loggers or False, callbacks=[])
    assert isinstance(trainer_obj, pl.Trainer)
    assert len(trainer_obj.loggers) == len(expected)
    assert trainer_obj.max_epochs == cfg.trainer.max_epochs
    assert trainer_obj.num_sanity_val_steps == 0
    assert trainer_obj.accumulate_grad_batches == 1
    assert not (run_dir / "wandb").exists()


# --------------------------------------------------------------------------- instantiation


def _check_objects(cfg: DictConfig, built: Built, checked_losses: set[int]) -> None:
    torch.manual_seed(0)
    synth = built(cfg.synth)
    model = built(cfg.model)
    loss = built(cfg.loss)
    datamodule = built(cfg.data)
    opt_partial = built(cfg.optimizer)
    assert isinstance(synth, nn.Module) and isinstance(model, nn.Module)
    assert type(loss).__name__ == cfg.loss._target_.rsplit(".", 1)[-1]
    assert synth.n_samples == cfg.synth.n_samples
    assert len(datamodule.train_dataset) > 0 and datamodule.batch_size == cfg.data.batch_size

    # The optimizer partial on the model's parameters.
    params = list(model.parameters())
    opt = opt_partial(params)
    assert type(opt).__name__ == cfg.optimizer._target_.rsplit(".", 1)[-1]
    assert opt.param_groups[0]["lr"] == cfg.lr
    assert sum(len(g["params"]) for g in opt.param_groups) == len(params)

    # Every callback, and the trainer.
    callbacks = [built(c) for c in cfg.callbacks.values() if c is not None]
    assert sorted(type(c).__name__ for c in callbacks) == sorted(
        c._target_.rsplit(".", 1)[-1] for c in cfg.callbacks.values() if c is not None
    )
    trainer = built(cfg.trainer, logger=False)
    assert isinstance(trainer, pl.Trainer) and trainer.max_epochs == cfg.trainer.max_epochs

    # A SoundMatching module from these parts; configure_optimizers needs no trainer.
    module = SoundMatching(synth, model, loss, opt_partial, cfg.theta_names)
    configured = module.configure_optimizers()
    assert type(configured).__name__ == type(opt).__name__
    if cfg.loss._target_ in RANDOM_PATH:
        assert module.samples_paths and module.pathwise == any(
            (cfg.loss.use_p_adam, cfg.loss.use_p_saga)
        )
    else:
        assert not module.samples_paths and not module.pathwise
    assert module.compares == ("theta" if cfg.loss._target_.endswith("ThetaLoss") else "audio")

    # The parts fit together: one forward of every distinct loss on this synth's sounds.
    if id(loss) in checked_losses:
        return
    checked_losses.add(id(loss))
    theta = torch.tensor([[0.2, 0.7], [0.9, 0.1]])
    with torch.no_grad():
        x = synth(theta, torch.tensor([0, 1]))
        x_hat = synth(theta.flip(0), torch.tensor([2, 3]))
        model.eval()
        theta_hat = model(x)
    assert x.shape == (2, 1, cfg.synth.n_samples) and torch.isfinite(x).all()
    assert theta_hat.shape == (2, cfg.n_theta)
    assert ((theta_hat >= 0) & (theta_hat <= 1)).all()
    if module.compares == "theta":
        value = loss(theta_hat, theta)
    elif module.samples_paths:
        value = loss(x_hat, x, seed=0)
    else:
        value = loss(x_hat, x)
    assert value.shape == () and torch.isfinite(value) and value > 0


def _instantiate_tiny(composer, pairs: list[tuple[str, str]]) -> Built:
    built, checked = Built(), set()
    for experiment, loss in pairs:
        _check_objects(composer(*_base(experiment, loss, "tiny")), built, checked)
    # Every distinct loss config ran once: SCRAPL with and without the θ-IS callback share
    # one loss config, the other losses have their own.
    assert len(checked) == len(LOSSES) - 1
    return built


def test_instantiate_tiny(composer) -> None:
    # The diagonal holds every experiment and every loss: every distinct object config of
    # the full product (checked by the slow test below), built once each.
    built = _instantiate_tiny(composer, _diagonal())
    n_synths = len(EXPERIMENTS) - 1  # "chirplet" is the am_lo_fm_lo synth
    # Best and last ModelCheckpoint, StepCheckpoint, AudioExamples, TestAudio (with its MSS
    # distance inside), PathPlots, StepTimer; a ThetaIS per experiment that a θ-IS loss meets
    # on the diagonal (its label names the experiment).
    n_callbacks = 7 + len({e for e, loss in _diagonal() if loss in THETA_IS_LOSSES})
    n_optimizers = 2  # SGD and AdamW at the tiny lr
    n_expected = n_synths + 1 + 1 + (len(LOSSES) - 1) + n_optimizers + n_callbacks + 1
    assert built.n_builds == n_expected  # synths, model, data, losses, ..., trainer


@pytest.mark.slow
def test_instantiate_tiny_full_product(composer) -> None:
    pairs = [(e, loss) for e in EXPERIMENTS for loss in LOSSES]
    full = _instantiate_tiny(composer, pairs)

    def unlabelled(objects) -> set[str]:
        # The θ-IS callback's label names the experiment (its warmup folder): one per
        # experiment in the full product, otherwise the same object.
        return {re.sub(r"\nlabel: [^\n]*", "", key) for key in objects}

    assert unlabelled(full.objects) == unlabelled(_instantiate_tiny(composer, _diagonal()).objects)


@pytest.mark.parametrize("loss", LOSSES)
def test_instantiate_paper_granular_losses(composer, loss, paper_built) -> None:
    cfg = composer(*_base("granular", loss, "paper"))
    built = paper_built
    obj = built(cfg.loss)
    assert obj.__class__.__name__ == cfg.loss._target_.rsplit(".", 1)[-1]
    if cfg.loss._target_ in (SCRAPL, JTFS):
        config = obj.config
        assert config.shape == 32768
        for k, v in PAPER_JTFS.items():
            assert getattr(config, k) == v, k
        assert obj.n_paths > 100  # the paper's JTFS has a few hundred paths
    if cfg.loss._target_ == SCRAPL_TIME:
        config = obj.config
        assert config.shape == 32768
        for k in TIME_KEYS:
            assert getattr(config, k) == PAPER_JTFS[k], k
        # kymatio's Scattering1D(12, 32768, Q=(8, 2), T=4096): 86 first-order rows and
        # 1003 second-order rows (tests/test_scattering1d.py checks the counting).
        assert obj.n_paths == 1089
    if cfg.loss._target_ in RANDOM_PATH:
        assert (obj.use_p_adam, obj.use_p_saga) == PATHWISE[loss]
        assert obj.grad_mult == 1.0e8
        assert torch.allclose(obj.probs, torch.full_like(obj.probs, 1 / obj.n_paths))
    # The paper's module and optimizer (only the loss configs differ between these runs).
    synth = built(cfg.synth)
    model = built(cfg.model)
    assert sum(p.numel() for p in model.parameters()) == 604_106  # The paper's set-up
    module = SoundMatching(synth, model, obj, built(cfg.optimizer), cfg.theta_names)
    opt = module.configure_optimizers()
    expected = torch.optim.SGD if loss in P_ADAM_LOSSES else torch.optim.AdamW
    assert type(opt) is expected
    assert opt.param_groups[0]["lr"] == 1.0e-5
    if loss in P_ADAM_LOSSES:
        assert opt.param_groups[0]["momentum"] == 0.0


@pytest.fixture(scope="module")
def paper_built() -> Built:
    return Built()


def test_paper_scrapl_variants_share_one_path_set(composer, paper_built) -> None:
    # Runs after the per-loss test: the built losses come from the module's memo.
    sizes = set()
    for loss in (name for name, target in LOSS_TARGETS.items() if target == SCRAPL):
        cfg = composer(*_base("granular", loss, "paper"))
        sizes.add(paper_built(cfg.loss).n_paths)
    jtfs = paper_built(composer(*_base("granular", "jtfs", "paper")).loss)
    assert sizes == {jtfs.n_paths}


# --------------------------------------------------------------------------- full product


@pytest.mark.slow
@pytest.mark.parametrize("logger", LOGGERS)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_full_product_runs(run_train, no_network, tmp_path, experiment, loss, logger) -> None:
    overrides = [f"experiment={experiment}", f"loss={loss}", *FAST_RUN, f"logger={logger}"]
    overrides += ["trainer.limit_train_batches=1", "callbacks=[model_checkpoint,last_checkpoint]"]
    if loss in THETA_IS_LOSSES:
        overrides += ["theta_is.n_examples=1", "theta_is.n_iter=1"]
    metrics, cfg = run_train(overrides, tmp_path / "run")
    assert math.isfinite(metrics["end/val/theta_l1"])
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()
    assert (tmp_path / "run" / "metrics.csv").is_file() == (logger in ("csv", "many"))
    assert (tmp_path / "run" / "tensorboard").is_dir() == (logger in ("tensorboard", "many"))
    assert (tmp_path / "run" / "wandb").is_dir() == (logger in ("wandb", "many"))


# --------------------------------------------------------------------------- early errors


def test_unknown_loss_lists_the_options(compose_train) -> None:
    with pytest.raises(ConfigCompositionException) as info:
        compose_train(["loss=nope"])
    message = str(info.value)
    assert "loss/nope" in message
    for name in LOSSES:
        assert f"\t{name}\n" in message + "\n"


def _train_rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [r for r in csv.DictReader(f) if r.get("train/loss")]


@pytest.mark.parametrize(
    "overrides,match",
    [
        (["loss=scrapl", "trainer.accumulate_grad_batches=2"], "accumulate_grad_batches"),
        (["loss=scrapl_p_adam", "trainer.accumulate_grad_batches=3"], "accumulate_grad_batches"),
        (["loss=scrapl", "optimizer.momentum=0.9"], r"plain SGD.*momentum=0\.9"),
        (["loss=scrapl", "optimizer=adam"], r"plain SGD.*got Adam "),
        (["loss=scrapl", "optimizer=adamw"], r"plain SGD.*got AdamW "),
    ],
)
def test_bad_overrides_fail_before_training(
    run_train, tmp_path, monkeypatch, overrides, match
) -> None:
    steps = []
    step = SoundMatching.training_step
    monkeypatch.setattr(SoundMatching, "training_step", lambda *a: steps.append(1) or step(*a))
    run_dir = tmp_path / "run"
    base = ["preset=tiny", "test=false", "callbacks=model_checkpoint"]
    with pytest.raises(ValueError, match=match):
        run_train([*base, "trainer.enable_progress_bar=false", *overrides], run_dir)
    # Before any training step and before the θ-IS warmup (which runs at fit start).
    assert steps == []
    assert _train_rows(run_dir / "metrics.csv") == []
    assert not (run_dir / "theta_is").exists()
    assert not (run_dir / "checkpoints").exists()


def test_optimizer_override_wins_over_loss_default(compose_train) -> None:
    # The error test above relies on this: a command-line optimizer beats the SCRAPL default.
    assert compose_train(["loss=scrapl", "optimizer=adam"]).optimizer._target_ == "torch.optim.Adam"
    assert compose_train(["loss=scrapl_plain"]).optimizer._target_ == "torch.optim.AdamW"


def test_accumulation_allowed_without_pathwise_transforms(run_train, tmp_path, monkeypatch) -> None:
    # Plain SCRAPL (no P-Adam / P-SAGA) may accumulate; and momentum is fine without P-Adam.
    steps = []
    step = SoundMatching.training_step
    monkeypatch.setattr(SoundMatching, "training_step", lambda *a: steps.append(1) or step(*a))
    overrides = [*FAST_RUN, "loss=scrapl_plain", "callbacks=last_checkpoint", "optimizer=sgd"]
    overrides += ["trainer.accumulate_grad_batches=2", "optimizer.momentum=0.9"]
    metrics, cfg = run_train(overrides, tmp_path / "run")
    assert cfg.optimizer.momentum == 0.9 and cfg.trainer.accumulate_grad_batches == 2
    assert len(steps) == 2  # two batches, one optimizer step
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 1
    rows = _train_rows(tmp_path / "run" / "metrics.csv")
    assert rows and all(math.isfinite(float(r["train/loss"])) for r in rows)
    assert math.isfinite(metrics["end/val/theta_l1"])


@pytest.mark.parametrize("launcher", ["submitit_slurm", "submitit_local"])
def test_submitit_launcher_configs(compose_train, launcher, monkeypatch) -> None:
    """The launcher composes, instantiates (no SLURM needed to build it), and the defaults
    that make a requeued job continue in its folder are on."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    monkeypatch.setenv(RUN_NAME_VARIABLE, "2026-01-01_00-00-00.000_p1-abcd")
    cfg = compose_train(["experiment=granular", "loss=scrapl", f"hydra/launcher={launcher}"])
    launcher_cfg = cfg.hydra.launcher
    assert launcher_cfg._target_.rsplit(".", 1)[-1] == (
        "SlurmLauncher" if launcher == "submitit_slurm" else "LocalLauncher"
    )
    # The launch's name (set by scripts/train.py, inherited by the jobs and their requeues)
    # names the submitit folder and the jobs' run folders.
    name = "${oc.env:" + RUN_NAME_VARIABLE + "}"
    assert name in OmegaConf.to_container(launcher_cfg)["submitit_folder"]
    assert name in OmegaConf.to_container(cfg.hydra.sweep)["subdir"]
    built = hydra.utils.instantiate(launcher_cfg)
    assert "/.submitit/2026-01-01_00-00-00.000_p1-abcd/" in built.params["submitit_folder"]
    assert built.params["timeout_min"] == launcher_cfg.timeout_min
    if launcher == "submitit_slurm":
        assert launcher_cfg.max_num_timeout > 0 and launcher_cfg.signal_delay_s > 0
    assert cfg.auto_resume is True and list(cfg.stop_signals) == ["SIGUSR2"]
    (step_ckpt,) = [c for c in cfg.callbacks.values() if c and "StepCheckpoint" in c._target_]
    assert list(step_ckpt.signals) == ["SIGUSR2"]
