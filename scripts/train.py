"""Train (and test) a sound-matching model from the Hydra configs in configs/.

    python scripts/train.py experiment=granular loss=scrapl [preset=quick] [key=value ...]
    python scripts/train.py -m seed='range(0,20)' experiment=granular loss=scrapl
    python scripts/train.py ... ckpt_path=out/<experiment>/<loss>/<run>/checkpoints/last.ckpt
    python scripts/train.py ... auto_resume=true   # a restarted job continues in its folder

Every launch gets a run folder of its own (experiments.run_dirs: the launch's name, set here,
makes the folder name). Before anything is written, the folder is checked: a run never starts
in a folder holding another run; a requeued job continues in its own (``auto_resume``).
A resumed run's config.yaml records ``resumed_from`` (checkpoint, run folder, epoch, step);
a run continued in its own folder appends to ``resumed_in_place`` (from its last.ckpt) or to
``restarted_in_place`` (no checkpoint yet: started again, the earlier attempt's files kept in
``previous_attempts/<n>/``).
A finished run writes ``summary.json``: its θ errors (when its data have θ), the test metrics
of a TestMetrics callback (the TR-808 experiments), the best checkpoint, the wall time and the
number of torch threads (what the analysis scripts read besides metrics.csv).

Everything is built from the configs' ``_target_`` entries; nothing here knows experiment
or loss names.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import hydra
from omegaconf import DictConfig, OmegaConf

from experiments.config_checks import ConfigValueError, check_run_config
from experiments.run_dirs import RUN_NAME_VARIABLE, apply_start, new_run_name, plan_start

if TYPE_CHECKING:
    import lightning.pytorch as pl

# Lightning, torch and the experiments' modules are imported in train(): --help (Hydra's)
# answers without them.

log = logging.getLogger("train")


def instantiate_group(cfg: DictConfig | None) -> list:
    """Instantiate every entry of a ``name: {_target_: ...}`` group; null entries are off."""
    if cfg is None:
        return []
    return [hydra.utils.instantiate(c) for c in cfg.values() if c is not None]


def finish_wandb() -> None:
    """Close the W&B run of this job: the next job of a multirun would otherwise log into it."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish()


def _record(metrics: dict[str, float], trainer: pl.Trainer, key: str, name: str) -> None:
    """``metrics[name]`` = the logged value of ``key``, if it was logged (recordings have no
    θ error)."""
    value = trainer.callback_metrics.get(key)
    if value is not None:
        metrics[name] = float(value)


def write_hydra_files(out_dir: Path, cfg: DictConfig) -> None:
    """``.hydra/`` of the run folder, as Hydra writes it. Hydra's own copy is off
    (``hydra.output_subdir: null``): it would be written before the folder is checked."""
    from hydra.core.hydra_config import HydraConfig

    from experiments.audio_io import atomic_output

    if not HydraConfig.initialized():
        return
    hydra_cfg = HydraConfig.get()
    nodes = {
        "config.yaml": cfg,
        "hydra.yaml": OmegaConf.create({"hydra": hydra_cfg}),
        "overrides.yaml": hydra_cfg.overrides.task,
    }
    for name, node in nodes.items():
        with atomic_output(out_dir / ".hydra" / name) as tmp:
            OmegaConf.save(node, tmp)


def _warmup_script():
    """scripts/warmup.py as a module (found beside this file, on any sys.path).

    Deliberately not cached with functools: submitit pickles this file's functions by value,
    and a cache wrapper would be pickled by name, which the job process cannot resolve.
    """
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "warmup_script", Path(__file__).with_name("warmup.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shared_warmup_seed(cfg: DictConfig) -> int | None:
    """``theta_is.seed`` when this run takes its θ-IS warmup from a run with that seed: set,
    with the θ-IS callback on and no ``loss.probs_path``; refused on several devices."""
    seed = cfg.get("theta_is", {}).get("seed")
    callbacks = cfg.get("callbacks") or {}
    if seed is None or callbacks.get("theta_is") is None or cfg.loss.get("probs_path"):
        return None
    if _warmup_script().several_devices(cfg.trainer):
        raise ConfigValueError(
            f"theta_is.seed={seed} computes the shared warmup in this process, on one device; "
            f"with trainer.devices={cfg.trainer.get('devices')} run scripts/warmup.py "
            f"seed={seed} (same overrides) first, then train with loss.probs_path=<its probs.pt>"
        )
    return int(seed)


def shared_warmup(cfg: DictConfig, seed: int) -> Path:
    """The θ-IS warmup folder of a run like this one with seed ``seed`` (its encoder's
    initial weights and data order), computed by scripts/warmup.py's code into the warmup
    cache, or found there: every run of a sweep over seeds with ``theta_is.seed`` set loads
    the same π, and only the first computes it (the published runs' practice)."""
    from omegaconf import open_dict

    from scrapl.warmup.store import PROBS_NAME

    wcfg = copy.deepcopy(cfg)  # the run's own config stays as it is
    with open_dict(wcfg):
        wcfg.seed = seed
        wcfg.warmup = {"n_chunks": 1, "chunk": 0, "theta_idxs": None, "merge": False}
    log.info(f"θ-IS warmup of seed {seed} (theta_is.seed), shared by the runs of every seed")
    save_dir = _warmup_script().warmup(wcfg, announce=False)
    if not (save_dir / PROBS_NAME).is_file():
        raise RuntimeError(f"the shared θ-IS warmup in {save_dir} did not complete (see above)")
    return save_dir


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit (resuming from ``cfg.ckpt_path`` if set), then test; returns the final metrics."""
    started = time.perf_counter()
    # Bad values (lr <= 0, batch 0, ...) named before anything is imported, built or written.
    check_run_config(OmegaConf.to_container(cfg, resolve=True))
    warmup_seed = shared_warmup_seed(cfg)
    import lightning.pytorch as pl
    import torch
    from lightning.pytorch.utilities import rank_zero_only

    from experiments.console import silence_known_warnings, single_lightning_output

    silence_known_warnings()
    single_lightning_output()

    from experiments.audio_io import atomic_output
    from experiments.callbacks.test_metrics import TestMetrics
    from experiments.checkpoints import read_resume_checkpoint

    out_dir = Path(cfg.paths.output_dir)
    run_cfg = OmegaConf.to_container(cfg, resolve=True)
    ckpt_path = cfg.ckpt_path
    if ckpt_path is not None:
        # Refuses a corrupt or foreign checkpoint before anything is built.
        run_cfg["resumed_from"] = read_resume_checkpoint(ckpt_path)
    auto_resume = cfg.get("auto_resume", False)
    if rank_zero_only.rank == 0:
        # Refuses a folder holding another run before anything is written there.
        start = plan_start(out_dir, run_cfg, auto_resume)
        apply_start(out_dir, start)
        run_cfg.update(start.records)
        with atomic_output(out_dir / "config.yaml") as tmp:
            tmp.write_text(OmegaConf.to_yaml(run_cfg))
        write_hydra_files(out_dir, cfg)
        resume_from = start.checkpoint
    else:  # under data parallel: rank 0 decided (and wrote), before it started this rank
        last = out_dir / "checkpoints" / "last.ckpt"
        resume_from = str(last) if auto_resume and last.is_file() else None
    if resume_from is not None:
        ckpt_path = resume_from
        log.info(f"Continuing in {out_dir} from {ckpt_path}")

    if warmup_seed is not None and ckpt_path is None:
        from omegaconf import open_dict

        warmup_dir = shared_warmup(cfg, warmup_seed)  # builds its own run: before seeding
        with open_dict(cfg):
            cfg.callbacks.theta_is.warmup_dir = str(warmup_dir)
    pl.seed_everything(cfg.seed, workers=True)  # after the folder check: it logs

    datamodule = hydra.utils.instantiate(cfg.data)
    module = hydra.utils.instantiate(cfg.module)
    trainer: pl.Trainer = hydra.utils.instantiate(
        cfg.trainer,
        callbacks=instantiate_group(cfg.get("callbacks")),
        logger=instantiate_group(cfg.get("logger")) or False,
    )
    n_weights = sum(p.numel() for p in module.encoder.parameters() if p.requires_grad)
    log.info(f"Encoder: {n_weights} trainable weights. Run folder: {out_dir}")

    metrics: dict[str, float] = {}
    best = None
    try:
        if cfg.validate_before_fit and ckpt_path is None:
            trainer.validate(module, datamodule=datamodule, verbose=False)
            _record(metrics, trainer, "val/theta_l1", "start/val/theta_l1")
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
        _record(metrics, trainer, "val/theta_l1", "end/val/theta_l1")
        best = getattr(trainer.checkpoint_callback, "best_model_path", "") or None
        if cfg.test:
            trainer.test(
                module, datamodule=datamodule, ckpt_path=best, verbose=False, weights_only=True
            )
            _record(metrics, trainer, "test/theta_l1", "test/theta_l1")
            for callback in trainer.callbacks:
                if isinstance(callback, TestMetrics):
                    for name in callback.logged_names:
                        _record(metrics, trainer, name, name)
    finally:
        finish_wandb()
    if not trainer.is_global_zero:  # under DDP, one summary: rank 0's
        return metrics
    with atomic_output(out_dir / "summary.json") as tmp:
        record = {
            **metrics,
            "best_checkpoint": best,
            "wall_time_s": round(time.perf_counter() - started, 1),
            "torch_threads": torch.get_num_threads(),
        }
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    theta = ", ".join(f"{k} = {v:.1f} ‰" for k, v in metrics.items() if "theta_l1" in k)
    other = ", ".join(f"{k} = {v:.4g}" for k, v in metrics.items() if "theta_l1" not in k)
    lines = [f"θ L1 (per mille): {theta}"] if theta else []
    lines += [f"Test metrics: {other}"] if other else []
    for line in [*lines, f"Run folder: {out_dir}"]:
        log.info(line)  # once: on the console and in train.log
    return metrics


@hydra.main(version_base="1.3", config_path="../configs", config_name="train")
def main(cfg: DictConfig) -> float:
    try:
        metrics = train(cfg)
    except ConfigValueError as err:
        # Hydra made the (empty) run folder before calling this: leave nothing behind.
        top, folder = Path(cfg.paths.out_dir).resolve(), Path(cfg.paths.output_dir).resolve()
        while folder != top and top in folder.parents and folder.is_dir():
            if any(folder.iterdir()):
                break
            folder.rmdir()
            folder = folder.parent
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    # The value a Hydra sweeper would minimise.
    return metrics.get("end/val/theta_l1", math.nan)


if __name__ == "__main__":
    # The launch's name, shared by every process of this launch (a sweep's jobs, their
    # requeues); configs/hydra/default.yaml makes the run folders from it.
    os.environ[RUN_NAME_VARIABLE] = new_run_name()
    main()
