"""The TR-808 Hydra configs: every experiment x loss composed with the paper's facts (preset paper),
the quick and tiny presets, every object of the tiny preset built and run once on the synth's
sounds, the paper-size encoder (724,642 weights) and transform (483 paths), and the three
data options (synthetic, a folder, the Hydrogen kit)."""

from __future__ import annotations

from pathlib import Path

import hydra
import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import CONFIG_DIR, LOSSES, TR808_EXPERIMENTS, Built
from hydra.errors import InstantiationException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from experiments.data.hydrogen import find_hydrogen_tr808
from experiments.module import SoundMatching
from experiments.synths.tr808 import TR808Synth

PRESETS = ["paper", "quick", "tiny"]
SCRAPL, JTFS = "scrapl.SCRAPLLoss", "scrapl.JTFSLoss"
SCRAPL_TIME = "scrapl.Scattering1DSCRAPLLoss"  # time scattering: the JTFS's temporal part
P_ADAM_LOSSES = {"scrapl", "scrapl_no_theta_is", "scrapl_p_adam", "scrapl_time"}
THETA_IS_LOSSES = {"scrapl", "scrapl_time"}
JTFS_KEYS = ("J", "Q1", "Q2", "J_fr", "Q_fr", "T", "F")
# The paper's TR-808 transform, of the loss (paper preset) and of the test metric (always).
TR808_JTFS = dict(J=12, Q1=8, Q2=2, J_fr=5, Q_fr=2, T=2048, F=1)
METRICS = {
    "mss_log_linear": "auraloss.freq.MultiResolutionSTFTLoss",
    "jtfs_distance": JTFS,
    "features": "experiments.metrics.tr808_features.TR808FeatureDistances",
    "fad": "experiments.metrics.embeddings.FrechetAudioDistanceMetric",
}


def _base(experiment: str, loss: str, preset: str, *more: str) -> tuple[str, ...]:
    return (f"experiment={experiment}", f"loss={loss}", f"preset={preset}", "trainer=cpu",
            "logger=csv", *more)  # fmt: skip


def test_the_tr808_experiments() -> None:
    assert TR808_EXPERIMENTS == ["tr808", "tr808_meso", "tr808_micro"]
    values = {p.stem for p in (CONFIG_DIR / "preset_values").glob("*.yaml")}
    assert {f"{p}_tr808" for p in PRESETS} <= values


def _check_common(cfg: DictConfig, experiment: str, loss: str) -> None:
    run_dir = Path(cfg.paths.output_dir)
    assert cfg.experiment_name == experiment
    assert cfg.synth._target_ == "experiments.synths.tr808.TR808Synth"
    assert list(cfg.theta_names) == list(TR808Synth.param_names)
    assert cfg.n_theta == 14 == cfg.model.net.n_theta == len(cfg.theta_names)
    assert cfg.model.features.sr == cfg.synth.sr == 44100
    # The data: the synthetic set in the data cache under out/, with the synth's noise.
    data = cfg.data
    assert data._target_ == "experiments.data.one_shot_datamodule.OneShotDataModule"
    assert data.collection.cache_dir == f"{cfg.paths.out_dir}/data_cache"
    assert data.collection.noise_seed == cfg.synth.noise_seed
    assert (data.collection.sr, data.collection.n_samples) == (cfg.synth.sr, cfg.synth.n_samples)
    assert data.max_shift == (2048 if experiment == "tr808_meso" else 0)
    assert data.shuffle_seed == data.shift_seed == cfg.seed and data.drop_last is True
    # The shift, its pad, and the metrics on the pad-free audio.
    assert cfg.module.pad == 2048
    assert cfg.metric_n_samples == cfg.synth.n_samples - cfg.module.pad
    assert cfg.module.scheduler_interval == "epoch"
    sched = cfg.module.scheduler
    assert sched._target_ == "torch.optim.lr_scheduler.LinearLR" and sched._partial_ is True
    assert (sched.start_factor, sched.end_factor) == (1.0, 0.1)
    assert sched.total_iters == cfg.trainer.max_epochs
    # Optimisation: SCRAPL with P-Adam on plain SGD, the rest AdamW.
    assert cfg.optimizer._target_ == (
        "torch.optim.SGD" if loss in P_ADAM_LOSSES else "torch.optim.AdamW"
    )
    assert cfg.optimizer.lr == cfg.lr
    assert cfg.module.grad_mult == (1.0e8 if loss in ("jtfs", "scrapl_plain") else 1.0)
    if cfg.loss._target_ in (SCRAPL, JTFS):
        assert cfg.loss.shape == cfg.synth.n_samples
        assert cfg.loss.use_rho_log1p is True
        for k in JTFS_KEYS:
            assert cfg.loss[k] == cfg.jtfs[k], k
    if cfg.loss._target_ == SCRAPL_TIME:
        assert cfg.loss.shape == cfg.synth.n_samples
        assert cfg.loss.use_rho_log1p is True
        for k in ("J", "Q1", "Q2", "T"):
            assert cfg.loss[k] == cfg.jtfs[k], k
    if cfg.loss._target_ in (SCRAPL, SCRAPL_TIME):
        assert cfg.loss.grad_mult == 1.0  # The paper's set-up: ρ = log1p, no underflow
        assert cfg.loss.n_theta == 14
    assert (cfg.callbacks.get("theta_is") is not None) == (loss in THETA_IS_LOSSES)
    if loss in THETA_IS_LOSSES:
        assert cfg.callbacks.theta_is.batch_size == cfg.theta_is.batch_size
        assert cfg.callbacks.theta_is.n_examples == cfg.theta_is.n_examples
    # Every run is tested with the TR-808 metrics, into a table in the run folder.
    tm = cfg.callbacks.test_metrics
    assert tm._target_ == "experiments.callbacks.test_metrics.TestMetrics"
    assert tm.table_path == str(run_dir / "test_examples.csv")
    assert {k: v._target_ for k, v in tm.metrics.items()} == METRICS
    assert tm.metrics.jtfs_distance.shape == cfg.metric_n_samples
    assert tm.metrics.jtfs_distance.use_rho_log1p is True
    assert tm.metrics.features.pad == 0 and tm.metrics.fad.sr == cfg.synth.sr
    assert tm.metrics.fad.embedding._target_.endswith("MFCCFrameEmbedding")
    assert cfg.callbacks.audio_examples.out_dir == str(run_dir / "audio")


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("experiment", TR808_EXPERIMENTS)
def test_paper_preset(composer, experiment, loss) -> None:
    cfg = composer(*_base(experiment, loss, "paper"))
    _check_common(cfg, experiment, loss)
    assert (cfg.synth.n_samples, cfg.synth.noise_seed) == (44100, 0)
    for k, v in TR808_JTFS.items():
        assert cfg.jtfs[k] == v, k
        assert cfg.callbacks.test_metrics.metrics.jtfs_distance[k] == v, k
    assert cfg.data.batch_size == 8 and cfg.trainer.max_epochs == 50
    assert cfg.lr == 1.0e-4 and cfg.weight_decay == 0.01
    assert (cfg.theta_is.n_examples, cfg.theta_is.batch_size) == (16, 16)  # 1 x 16
    coll = cfg.data.collection
    assert (coll.n_per_type * len(coll.types), list(coll.split)) == (684, [425, 128, 128])
    net = cfg.model.net
    assert cfg.model.features.n_octaves == 9 and cfg.model.features.fmin is None
    assert [list(p) for p in net.pools] == [[2, 2], [2, 2], [2, 3], [3, 3], [3, 3]]
    assert (net.channels, net.latent_dim, net.head_hidden, net.dropout) == (128, 128, 64, 0.25)
    assert cfg.metric_n_samples == 42052


SMALL = [(e, p) for p in ("quick", "tiny") for e in ("tr808_micro", "tr808_meso")]


def _check_small(cfg: DictConfig, experiment: str, loss: str, preset: str) -> None:
    _check_common(cfg, experiment, loss)
    values = OmegaConf.load(CONFIG_DIR / "preset_values" / f"{preset}_tr808.yaml")
    merged = OmegaConf.merge(cfg, values)  # the preset is applied last: nothing to change
    assert OmegaConf.to_container(merged) == OmegaConf.to_container(cfg)
    # The features need 66 frames after the pad: N stays 1 s.
    assert cfg.synth.n_samples == 44100
    assert cfg.theta_is.n_examples <= cfg.data.collection.split[0]
    if preset == "quick":  # the metrics stay the paper's, whatever the loss's transform
        for k, v in TR808_JTFS.items():
            assert cfg.callbacks.test_metrics.metrics.jtfs_distance[k] == v, k


@pytest.mark.parametrize("loss", LOSSES)
def test_small_presets(composer, loss) -> None:
    # Every loss once, cycling through the (experiment, preset) pairs; all of them: -m slow.
    experiment, preset = SMALL[LOSSES.index(loss) % len(SMALL)]
    _check_small(composer(*_base(experiment, loss, preset)), experiment, loss, preset)


@pytest.mark.slow
@pytest.mark.parametrize("experiment, preset", SMALL)
@pytest.mark.parametrize("loss", LOSSES)
def test_small_presets_full_product(composer, experiment, preset, loss) -> None:
    _check_small(composer(*_base(experiment, loss, preset)), experiment, loss, preset)


# --------------------------------------------------------------------------- objects


@pytest.fixture(scope="module")
def built() -> Built:
    return Built()


def _sounds(synth: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    theta = torch.tensor([[0.02, 0.8, 0.04, 0.6, 0.1, 0.3, 0.1, 0.02, 0.1, 0.1, 0.9, 0.7, 0.5,
                           0.5]])  # fmt: skip
    with torch.no_grad():
        return synth(theta.repeat(2, 1)), synth(theta.flip(1).repeat(2, 1))


@pytest.mark.parametrize("loss", LOSSES)
def test_instantiate_tiny(composer, built, tmp_path_factory, loss) -> None:
    out = tmp_path_factory.getbasetemp() / "tr808_out"
    cfg = composer(*_base("tr808_meso", loss, "tiny", f"paths.out_dir={out}"))
    torch.manual_seed(0)
    synth, model, datamodule = built(cfg.synth), built(cfg.model), built(cfg.data)
    loss_obj = built(cfg.loss)
    assert type(loss_obj).__name__ == cfg.loss._target_.rsplit(".", 1)[-1]
    # The synthetic set was rendered into the data cache under out/, with θ and shifts.
    assert datamodule.collection.cache_path.parent == out / "data_cache"
    assert datamodule.collection.cache_path.is_file()
    item = datamodule.train_dataset[0]
    assert item["x"].shape == (1, cfg.synth.n_samples) and item["theta"].shape == (14,)
    shifts = {datamodule.train_dataset[i]["shift"] for i in range(len(datamodule.train_dataset))}
    assert max(abs(s) for s in shifts) <= 2048 and shifts != {0}
    assert {datamodule.val_dataset[i]["shift"] for i in range(4)} == {0}
    # The module from the config, its scheduler stepped per epoch.
    module = hydra.utils.instantiate(cfg.module)
    assert isinstance(module, SoundMatching) and module.pad == 2048
    assert module.synth_takes_seed is False
    configured = module.configure_optimizers()
    assert configured["lr_scheduler"]["interval"] == "epoch"
    # One forward of the loss on TR-808 sounds, as the module compares them.
    x, x_hat = _sounds(synth)
    model.eval()
    if module.compares == "theta":
        value = loss_obj(model(x), torch.rand(2, 14))
    else:
        pair = module.aligned(x_hat, x, {"shift": torch.tensor([-5, 9])}, "train")
        value = loss_obj(*pair, seed=0) if module.samples_paths else loss_obj(*pair)
    assert value.shape == () and torch.isfinite(value) and value > 0
    # The test metrics and the callbacks.
    callbacks = [built(c) for c in cfg.callbacks.values() if c is not None]
    (tm,) = [c for c in callbacks if type(c).__name__ == "TestMetrics"]
    assert set(tm.metrics) == set(METRICS) and set(tm.set_metrics) == {"fad"}


def test_paper_encoder_and_transform(composer) -> None:
    cfg = composer(*_base("tr808_micro", "scrapl", "paper"))
    model = hydra.utils.instantiate(cfg.model)
    assert sum(p.numel() for p in model.parameters()) == 724_642  # The paper's set-up
    features = model.features(torch.zeros(1, 1, cfg.synth.n_samples))
    assert tuple(features.shape[1:]) == (108, 173)
    loss = hydra.utils.instantiate(cfg.loss)
    assert loss.n_paths == 483  # the paper's path order's table
    metric = hydra.utils.instantiate(cfg.callbacks.test_metrics.metrics.jtfs_distance)
    assert metric.n_paths == 483 and metric.config.shape == 42052


# --------------------------------------------------------------------------- data options


def test_data_one_shots_folder(composer, tmp_path) -> None:
    root = tmp_path / "hits"
    (root / "kicks").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(16):
        t = np.arange(22050) / 22050
        sound = np.sin(2 * np.pi * (50 + 40 * i) * t) * np.exp(-5 * t) + 0.01 * rng.normal(
            size=t.size)  # fmt: skip
        name = f"kicks/BD{i:02d}.wav" if i < 8 else f"SD{i:02d}.flac"
        sf.write(root / name, sound, 22050)
    cfg = composer(*_base("tr808_meso", "mss_linear", "paper", "data=one_shots",
                          f"data.root={root}"))  # fmt: skip
    assert cfg.data.root == str(root) and cfg.data.skip_bad is False
    assert cfg.data.max_shift == 2048 and cfg.data.batch_size == 8
    dm = hydra.utils.instantiate(cfg.data, drop_last=False)
    assert [len(dm.datasets[s]) for s in ("train", "val", "test")] == [10, 3, 3]
    assert {dm.collection.drum_types[i] for i in range(16)} == {"kick", "snare"}
    item = dm.train_dataset[0]
    assert item["x"].shape == (1, 44100) and "theta" not in item
    assert sorted(p.name for p in root.rglob("*") if p.is_file())[0] == "BD00.wav"
    assert len(list(root.rglob("*"))) == 17  # nothing written into the folder


def test_data_one_shots_needs_a_root(composer) -> None:
    cfg = composer(*_base("tr808_micro", "mss_linear", "paper", "data=one_shots"))
    with pytest.raises(MissingMandatoryValue, match="data.root"):
        hydra.utils.instantiate(cfg.data)


def test_data_hydrogen_tr808(composer, tmp_path) -> None:
    cfg = composer(*_base("tr808_micro", "mss_linear", "paper", "data=hydrogen_tr808"))
    assert list(cfg.data.split) == [10, 3, 3] and cfg.data.drop_last is False
    missing = OmegaConf.merge(cfg.data, {"root": {"search_dirs": [str(tmp_path / "none")]}})
    with pytest.raises(InstantiationException, match="apt-get install --no-install-recommends"):
        hydra.utils.instantiate(missing)
    try:
        find_hydrogen_tr808()
    except FileNotFoundError as err:
        pytest.skip(f"Debian's hydrogen-data is not installed ({err})")
    dm = hydra.utils.instantiate(cfg.data)
    assert len(dm.collection) == 16
    assert [len(dm.datasets[s]) for s in ("train", "val", "test")] == [10, 3, 3]
    assert {"kick", "snare", "tom", "hat"} <= set(dm.collection.drum_types)
