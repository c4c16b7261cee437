"""Hydra composition helpers shared by the config and training tests."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"


def _names(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))


EXPERIMENTS = _names("experiment")
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
