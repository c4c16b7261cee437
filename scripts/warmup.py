"""θ-IS warmup outside training, optionally split over processes (see configs/warmup.yaml).

    python scripts/warmup.py experiment=granular
    python scripts/warmup.py -m experiment=granular warmup.n_chunks=4 warmup.chunk=0,1,2,3
    python scripts/warmup.py experiment=granular warmup.merge=true

The encoder is built exactly as ``scripts/train.py`` builds it for the same seed, so the
warmup matches what the θ-IS callback of a training run would compute. Train with
``loss.probs_path=<save_dir>/probs.pt``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
import lightning.pytorch as pl
from omegaconf import DictConfig

from experiments.theta_is import run_theta_is

log = logging.getLogger("warmup")


def chunk_range(n_paths: int, n_chunks: int, chunk: int) -> tuple[int, int]:
    """Path range ``[start, end)`` of ``chunk`` when ``n_paths`` are cut into ``n_chunks``."""
    if not isinstance(n_chunks, int) or n_chunks < 1:
        raise ValueError(f"warmup.n_chunks must be an int >= 1, got {n_chunks!r}")
    if not isinstance(chunk, int) or not 0 <= chunk < n_chunks:
        raise ValueError(f"warmup.chunk must be an int in [0, {n_chunks}), got {chunk!r}")
    return chunk * n_paths // n_chunks, (chunk + 1) * n_paths // n_chunks


def warmup(cfg: DictConfig) -> Path:
    """Run (a chunk of) the warmup, or merge a folder; returns the warmup folder."""
    pl.seed_everything(cfg.seed, workers=True)
    # Same construction order as scripts/train.py: same random initial weights.
    datamodule = hydra.utils.instantiate(cfg.data)
    module = hydra.utils.instantiate(cfg.module)
    loss = module.loss
    if not callable(getattr(loss, "warmup_lc_hvp", None)):
        raise ValueError(
            f"the θ-IS warmup needs a SCRAPL loss (e.g. loss=scrapl), got {type(loss).__name__}"
        )
    save_dir = Path(cfg.warmup.save_dir)
    if cfg.warmup.merge:
        probs = loss.load_probs_from_warmup_dir(save_dir)
    else:
        start, end = chunk_range(loss.n_paths, cfg.warmup.n_chunks, cfg.warmup.chunk)
        log.info(f"θ-IS warmup of paths [{start}, {end}) of {loss.n_paths} into {save_dir}")
        probs = run_theta_is(
            loss,
            module.encoder,
            module.synth,
            datamodule.train_dataset,
            n_examples=cfg.theta_is.n_examples,
            batch_size=cfg.theta_is.batch_size,
            save_dir=save_dir,
            n_iter=cfg.theta_is.n_iter,
            start_path_idx=start,
            end_path_idx=end,
            theta_idxs=cfg.warmup.theta_idxs,
        )
    if probs is None:
        print(f"Chunk done; other paths are missing in {save_dir} (merge when all are done).")
    elif not (save_dir / "probs.pt").is_file():
        print(f"Incomplete warmup in {save_dir}: no probs.pt written (see the warning above).")
    else:
        print(
            f"π: min {float(probs.min()):.3g}, max {float(probs.max()):.3g}. "
            f"Train with loss.probs_path={save_dir / 'probs.pt'}"
        )
    return save_dir


@hydra.main(version_base="1.3", config_path="../configs", config_name="warmup")
def main(cfg: DictConfig) -> None:
    warmup(cfg)


if __name__ == "__main__":
    main()
