"""Hydra composition helpers shared by the config and training tests."""

from __future__ import annotations

import copy
import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path

import hydra
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"


def _names(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))


EXPERIMENTS = _names("experiment")
# The TR-808 experiments (one-shot data, 14 θ; tests in test_configs_tr808.py) and the θ-grid
# ones (granular, chirplet; test_configs.py).
TR808_EXPERIMENTS = [e for e in EXPERIMENTS if e.startswith("tr808")]
GRID_EXPERIMENTS = [e for e in EXPERIMENTS if e not in TR808_EXPERIMENTS]
LOSSES = _names("loss")
LOGGERS = _names("logger")
TRAINERS = _names("trainer")


@pytest.fixture
def compose_train(tmp_path: Path) -> Iterator[Callable[..., DictConfig]]:
    """``compose_train(overrides, name="train")``: the composed config, run folder in tmp_path.

    ``${hydra:...}`` interpolations resolve as in a real run (runtime.output_dir is the
    test's tmp_path / "run").
    """
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):

        def _compose(overrides: list[str], name: str = "train") -> DictConfig:
            cfg = compose(config_name=name, overrides=overrides, return_hydra_config=True)
            with open_dict(cfg):
                cfg.hydra.runtime.output_dir = str(tmp_path / "run")
                cfg.hydra.job.num = 0
            HydraConfig.instance().set_config(cfg)
            return cfg

        yield _compose
    GlobalHydra.instance().clear()


ROOT = CONFIG_DIR.parent
# Overrides of a training run cut to one training step: no validation, test, logger or
# callbacks (for tests of what happens before or around the fit, e.g. the θ-IS warmup).
ONE_STEP_FIT = [
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=1",
    "trainer.limit_val_batches=1",
    "validate_before_fit=false",
    "test=false",
    "logger=none",
    "callbacks=none",
    "trainer.enable_progress_bar=false",
]

# A short fit whose only last.ckpt files are the step checkpoints (StepCheckpoint): at
# max_steps Lightning ends the epoch, and the epoch-end last.ckpt would mark it complete (a
# killed job writes no such file). No pre-fit validation, no test, CSV metrics. The tests of
# mid-epoch, in-place and DDP resume add their steps, epochs and batch size.
STEP_CHECKPOINT_FIT = [
    "preset=tiny",
    "trainer.limit_val_batches=1",
    "validate_before_fit=false",
    "test=false",
    "logger=csv",
    "callbacks=last_checkpoint",
    "callbacks.last_checkpoint=null",
    "trainer.enable_progress_bar=false",
]


def short_warmup(cache_dir: Path, n_examples: int = 1) -> list[str]:
    """θ-IS overrides of a one-power-iteration warmup into ``cache_dir``."""
    return [
        f"theta_is.n_examples={n_examples}",
        "theta_is.n_iter=1",
        f"theta_is.cache_dir='{cache_dir}'",
    ]


# A training run of a few seconds: preset=tiny (1 s sounds, 4 x 4 grid, small JTFS and CNN)
# cut to one short epoch, no pre-fit validation, no test, CSV metrics only.
FAST_RUN = [
    "preset=tiny",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "validate_before_fit=false",
    "test=false",
    "logger=csv",
    "trainer.enable_progress_bar=false",
]


def load_train_script():
    """scripts/train.py as a module (it is not a package module)."""
    spec = importlib.util.spec_from_file_location("train_script", ROOT / "scripts" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def train_script():
    return load_train_script()


@pytest.fixture
def run_train(compose_train, train_script) -> Callable[..., tuple[dict, DictConfig]]:
    """``run_train(overrides, out_dir) -> (metrics, cfg)``: ``train(cfg)`` as hydra.main calls it.

    The run folder (``paths.output_dir``) is ``out_dir``; the ``hydra`` node is removed from
    the config like in a real run (its ``${hydra:...}`` values still resolve).
    """

    def _run(overrides: list[str], out_dir: Path) -> tuple[dict, DictConfig]:
        cfg = compose_train([*overrides, f"paths.output_dir='{out_dir}'"])
        with open_dict(cfg):
            del cfg["hydra"]
        return train_script.train(cfg), cfg

    return _run


@pytest.fixture(scope="module")
def composer(tmp_path_factory) -> Iterator[Callable[..., DictConfig]]:
    """``composer(*overrides)``: the resolved config, memoised per module (do not modify it).

    Composing takes ~0.2-0.4 s, so each override list is composed once and shared by the
    tests of a file. The result has no ``hydra`` node (what ``train`` sees); its
    ``${hydra:...}`` values resolve to a run folder in a temporary directory.
    """
    run_dir = tmp_path_factory.mktemp("configs") / "run"
    cache: dict[tuple[str, ...], DictConfig] = {}
    resolved: dict[tuple[str, ...], DictConfig] = {}

    def _compose(*overrides: str) -> DictConfig:
        key = tuple(overrides)
        if key not in cache:
            GlobalHydra.instance().clear()
            with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
                cfg = compose(config_name="train", overrides=list(key), return_hydra_config=True)
            with open_dict(cfg):
                cfg.hydra.runtime.output_dir = str(run_dir)
                cfg.hydra.job.num = 0
            cache[key] = cfg
        cfg = cache[key]
        HydraConfig.instance().set_config(cfg)
        if key not in resolved:
            plain = copy.deepcopy(cfg)
            with open_dict(plain):
                del plain["hydra"]
            OmegaConf.resolve(plain)
            resolved[key] = plain
        return resolved[key]

    yield _compose
    GlobalHydra.instance().clear()


class Built:
    """Objects built once per distinct resolved config (the YAML text is the key)."""

    def __init__(self) -> None:
        self.objects: dict[str, object] = {}
        self.n_builds = 0

    def __call__(self, node: DictConfig, **kwargs) -> object:
        key = OmegaConf.to_yaml(node, resolve=True) + repr(sorted(kwargs))
        if key not in self.objects:
            self.objects[key] = hydra.utils.instantiate(node, **kwargs)
            self.n_builds += 1
        return self.objects[key]


def train_in_folder(overrides: list[str], run_dir: Path, train_fn) -> DictConfig:
    """Compose ``train`` with ``overrides``, run ``train_fn(cfg)`` in ``run_dir`` as hydra.main
    would (hydra node set, then removed), and return the config."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=[*overrides, f"paths.output_dir='{run_dir}'"],
                      return_hydra_config=True)  # fmt: skip
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(run_dir)
        cfg.hydra.job.num = 0
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    train_fn(cfg)
    return cfg


def load_ckpt(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def assert_same(a: object, b: object, where: str = "") -> None:
    """Bit-identical nested checkpoint values (tensors by torch.equal, dtypes included)."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype, where
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"
