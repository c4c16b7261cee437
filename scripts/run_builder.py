"""A training run's config, data module and module built from configs/ without training
(used by the benchmarks and scripts/path_gradients.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"


def build_run(overrides: list[str], out_dir: str) -> tuple[Any, Any, Any]:
    """``(cfg, datamodule, module)`` of configs/train.yaml with ``overrides``, built as a
    training run builds them (run folder ``out_dir``, seeded first); call it inside
    ``hydra.initialize_config_dir(CONFIG_DIR)``."""
    import lightning.pytorch as pl
    from hydra import compose
    from hydra.core.hydra_config import HydraConfig
    from hydra.utils import instantiate
    from omegaconf import open_dict

    cfg = compose("train", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = out_dir
        cfg.hydra.job.num = 0
    HydraConfig.instance().set_config(cfg)
    pl.seed_everything(cfg.seed)
    return cfg, instantiate(cfg.data), instantiate(cfg.module)
