"""θ-IS warmup outside training, optionally split over processes (see configs/warmup.yaml).

    python scripts/warmup.py experiment=granular [preset=quick]          # seed 0
    python scripts/warmup.py -m experiment=granular warmup.n_chunks=4 warmup.chunk=0,1,2,3
    python scripts/warmup.py experiment=granular warmup.merge=true
    python scripts/warmup.py experiment=granular trainer=gpu     # on the trainer's accelerator
    python scripts/warmup.py experiment=granular trainer=ddp trainer.devices=4   # split over 4

It runs on the trainer config's accelerator and devices (``trainer=cpu`` picks the CPU);
with several devices one process per device splits the paths as a DDP training run does
(:func:`experiments.theta_is_ranks.warmup_on_ranks`).
The encoder and the data order are built exactly as ``scripts/train.py`` builds them for the
same seed, and the warmup directory is the one a training run with the same set-up would use
(:mod:`experiments.theta_is`), so the result equals what the θ-IS callback of that run would
compute, and a training run finds it already done. The published runs computed θ-IS once
with seed 0 and loaded it in every seed's run: train with ``loss.probs_path=<printed file>``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import hydra
from omegaconf import DictConfig

if TYPE_CHECKING:
    from lightning.fabric import Fabric

    from experiments.theta_is_ranks import Ranks

log = logging.getLogger("warmup")


def several_devices(trainer_cfg: DictConfig) -> bool:
    """Whether the trainer config runs one process per device on several devices."""
    devices = trainer_cfg.get("devices", 1)
    return (
        devices == -1 or (isinstance(devices, int) and devices > 1) or not isinstance(devices, int)
    )


def _fabric(trainer_cfg: DictConfig) -> Fabric:
    """Fabric on the trainer config's accelerator and devices (DDP with several), with its
    float32 matrix-product precision."""
    from lightning.fabric import Fabric

    from experiments.matmul_precision import set_float32_matmul_precision

    accelerator = trainer_cfg.get("accelerator", "cpu")
    if not isinstance(accelerator, str):  # an accelerator config (trainer=gpu): TF32 choice
        set_float32_matmul_precision(accelerator.get("float32_matmul_precision", "highest"))
        accelerator = "gpu"
    fabric = Fabric(
        accelerator=accelerator,
        devices=trainer_cfg.get("devices", 1),
        num_nodes=trainer_cfg.get("num_nodes", 1),
        strategy="ddp" if several_devices(trainer_cfg) else "auto",
    )
    fabric.launch()
    return fabric


def _fabric_ranks(fabric: Fabric) -> Ranks:
    from experiments.theta_is_ranks import Ranks

    def all_true(flag: bool) -> bool:
        import torch

        value = torch.tensor(int(bool(flag)), device=fabric.device)
        return bool(fabric.all_reduce(value, reduce_op="sum") == fabric.world_size)

    return Ranks(
        fabric.global_rank, fabric.world_size, lambda o: fabric.broadcast(o, src=0), all_true
    )


def warmup(cfg: DictConfig, announce: bool = True) -> Path:
    """Run (a chunk of) the warmup, or merge its folder; returns the warmup folder.
    ``announce``: print the outcome and the ``loss.probs_path`` to train with."""
    # Imported here, not above: --help answers without torch.
    import lightning.pytorch as pl

    from experiments.console import silence_known_warnings, single_lightning_output
    from experiments.theta_is import chunk_range, prepare_warmup, run_theta_is
    from experiments.theta_is_ranks import warmup_on_ranks
    from scrapl.warmup.store import PROBS_NAME

    silence_known_warnings()
    single_lightning_output()
    fabric = _fabric(cfg.trainer)
    pl.seed_everything(cfg.seed, workers=True)
    # Same construction order as scripts/train.py: same random initial weights.
    datamodule = hydra.utils.instantiate(cfg.data)
    module = hydra.utils.instantiate(cfg.module)
    if str(cfg.trainer.get("precision")) in ("64-true", "64", "double"):
        module.double()  # what the trainer's precision plugin does to the module
    module.to(fabric.device)
    loss = module.loss
    if not callable(getattr(loss, "warmup_lc_hvp", None)):
        raise ValueError(
            f"the θ-IS warmup needs a SCRAPL loss (e.g. loss=scrapl), got {type(loss).__name__}"
        )
    prepared = prepare_warmup(
        loss,
        module.encoder,
        module.synth,
        datamodule.train_dataset,
        datamodule.train_order(0),
        run_seed=cfg.seed,
        n_examples=cfg.theta_is.n_examples,
        batch_size=cfg.theta_is.batch_size,
        cache_dir=cfg.theta_is.cache_dir,
        label=cfg.theta_is.label,
        n_iter=cfg.theta_is.n_iter,
        pad=module.pad,
    )
    save_dir = prepared.save_dir
    if cfg.warmup.merge:
        probs = loss.load_probs_from_warmup_dir(save_dir)
    elif fabric.world_size > 1:
        if cfg.warmup.n_chunks != 1 or cfg.warmup.theta_idxs is not None:
            raise ValueError(
                "warmup.n_chunks and warmup.theta_idxs split the warmup over separate jobs; "
                f"with trainer.devices={cfg.trainer.devices} the devices split it: use one"
            )
        probs, save_dir = warmup_on_ranks(
            loss, module.encoder, module.synth, prepared, cfg.theta_is.n_iter,
            ranks=_fabric_ranks(fabric), wait_timeout_s=cfg.theta_is.wait_timeout_s,
        )  # fmt: skip
    else:
        start, end = chunk_range(loss.n_paths, cfg.warmup.n_chunks, cfg.warmup.chunk)
        log.info(f"θ-IS warmup of paths [{start}, {end}) of {loss.n_paths} into {save_dir}")
        probs = run_theta_is(
            loss,
            module.encoder,
            module.synth,
            prepared,
            n_iter=cfg.theta_is.n_iter,
            start_path_idx=start,
            end_path_idx=end,
            theta_idxs=cfg.warmup.theta_idxs,
        )
    if fabric.global_rank != 0 or not announce:
        return save_dir
    if probs is None:
        print(f"Chunk done; other paths are missing in {save_dir} (merge when all are done).")
    elif not (save_dir / PROBS_NAME).is_file():
        print(f"Incomplete warmup in {save_dir}: no {PROBS_NAME} written (see the warning above).")
    else:
        print(
            f"π: min {float(probs.min()):.3g}, max {float(probs.max()):.3g}. "
            f"Train with loss.probs_path={save_dir / PROBS_NAME}"
        )
    return save_dir


@hydra.main(version_base="1.3", config_path="../configs", config_name="warmup")
def main(cfg: DictConfig) -> None:
    warmup(cfg)


if __name__ == "__main__":
    main()
