"""Lightning callback running the θ-IS warmup before training (Mitcheltree et al., ICLR 2026).

SCRAPL's θ-importance sampling (§3) sets the path probabilities π once, before the first
step, from the curvature each path induces on the encoder. :class:`ThetaIS` runs
:func:`experiments.theta_is.run_theta_is` at ``on_fit_start`` on the run's first training
batches, so that π is in place for the first training step and is saved with every checkpoint
(it is part of the loss's state).

Lightning order (2.x, ``Trainer._run``): ``datamodule.setup("fit")`` and
``LightningModule.setup`` run first (the module attaches the encoder to the loss there),
then the model is moved to its device, then ``on_fit_start``; with the default strategies
the checkpoint of a resumed fit is also loaded before ``on_fit_start``, so
``trainer.ckpt_path`` is known there.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import lightning.pytorch as pl

from experiments.audio_io import atomic_output
from experiments.theta_is import chunk_range, prepare_warmup, run_theta_is
from scrapl.validation import check_int

# The file the warmup writes once π is complete.
from scrapl.warmup.store import PROBS_NAME

__all__ = ["ThetaIS"]

log = logging.getLogger(__name__)


class ThetaIS(pl.Callback):
    """Set a SCRAPL loss's path probabilities π by θ-IS warmup when a fit starts.

    Nothing is done (an INFO line says why) when

    * the module's ``loss`` has no ``warmup_lc_hvp`` (not a SCRAPL loss);
    * ``loss.probs_path`` is set: the loss already loaded π from that ``probs.pt``;
    * the fit resumes from a checkpoint (``trainer.ckpt_path`` is set): π comes back with the
      loss's state in the checkpoint.

    Otherwise the warmup runs over all paths and θ dims with the module's ``encoder``,
    ``synth`` and ``pad`` (if it has one) on the first ``n_examples`` of the training order
    of epoch 0 (the datamodule's ``train_order(0)``), in the shared warmup cache ``cache_dir`` (see
    :mod:`experiments.theta_is`): a run restarted after a kill, or a later run with the same
    set-up and seed, resumes or reuses it. The resulting ``probs.pt`` is copied into
    ``run_dir``, beside ``warmup_dir.txt`` naming the cache folder it came from.

    Under DDP (``trainer.world_size > 1``) the paths are split over the ranks
    (:func:`~experiments.theta_is.chunk_range`: rank r takes the r-th range): every rank runs
    its range on the same examples and the same (broadcast) initial weights into the same
    directory (atomic files), the ranks wait for each other, merge (every value is then on
    disk, so this only reads) and reload π from the one final ``probs.pt``, so that they
    sample from bit-identical π. ``cache_dir`` must be on a file system shared by all ranks.

    Args:
        cache_dir: the folder of warmup directories, shared by runs.
        label: the readable part of the warmup directory's name (e.g. experiment and preset).
        run_dir: the run's own θ-IS folder (gets a copy of ``probs.pt``).
        n_examples: number of training examples in the warmup (the first of epoch 0).
        batch_size: warmup batch size.
        n_iter: power iterations per (path, θ dim, batch).
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike,
        label: str,
        run_dir: str | os.PathLike,
        n_examples: int,
        batch_size: int,
        n_iter: int = 20,
    ) -> None:
        super().__init__()
        for name, value in (("cache_dir", cache_dir), ("run_dir", run_dir)):
            if not isinstance(value, (str, os.PathLike)) or os.fspath(value) == "":
                raise TypeError(f"{name} must be a non-empty str or os.PathLike, got {value!r}")
        self.cache_dir = Path(cache_dir)
        self.label = str(label)
        self.run_dir = Path(run_dir)
        self.n_examples = check_int("n_examples", n_examples, 1)
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.n_iter = check_int("n_iter", n_iter, 1)

    def _skip_reason(self, trainer: pl.Trainer, loss: object) -> str | None:
        if not callable(getattr(loss, "warmup_lc_hvp", None)):
            return f"the loss ({type(loss).__name__}) does not sample paths (no warmup_lc_hvp)"
        probs_path = getattr(loss, "probs_path", None)
        if probs_path is not None:
            return f"the loss already loaded its path probabilities from {probs_path!r}"
        if trainer.ckpt_path is not None:
            return (
                f"the fit resumes from {str(trainer.ckpt_path)!r}, whose loss state holds the "
                "path probabilities"
            )
        return None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        loss = getattr(pl_module, "loss", None)
        reason = self._skip_reason(trainer, loss)
        if reason is not None:
            log.info(f"θ-IS warmup skipped: {reason}")
            return
        datamodule = trainer.datamodule
        if not callable(getattr(datamodule, "train_order", None)):
            raise RuntimeError(
                "ThetaIS needs a datamodule with train_dataset and train_order(epoch) (the "
                f"training order), got {type(datamodule).__name__}"
            )
        start = time.perf_counter()
        warmup = prepare_warmup(
            loss,
            pl_module.encoder,
            pl_module.synth,
            datamodule.train_dataset,
            datamodule.train_order(0),
            run_seed=pl_module.seed,
            n_examples=self.n_examples,
            batch_size=self.batch_size,
            cache_dir=self.cache_dir,
            label=self.label,
            n_iter=self.n_iter,
            pad=getattr(pl_module, "pad", None),
        )
        args = (loss, pl_module.encoder, pl_module.synth, warmup, self.n_iter)
        if trainer.world_size > 1:
            start_idx, end_idx = chunk_range(loss.n_paths, trainer.world_size, trainer.global_rank)
            log.info(f"θ-IS warmup of paths [{start_idx}, {end_idx}) on this rank")
            run_theta_is(*args, start_path_idx=start_idx, end_path_idx=end_idx)
            trainer.strategy.barrier("theta_is_warmup_ranges")
        probs = run_theta_is(*args)
        if probs is None:  # cannot happen for the full range unless files vanish meanwhile
            raise RuntimeError(
                f"θ-IS warmup in {str(warmup.save_dir)!r} did not complete: some (path, θ) "
                "values are missing"
            )
        if trainer.world_size > 1:
            trainer.strategy.barrier("theta_is_warmup")
            loss.load_probs(warmup.save_dir / PROBS_NAME)
            probs = loss.probs
        if trainer.is_global_zero:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            with atomic_output(self.run_dir / PROBS_NAME) as tmp:
                tmp.write_bytes((warmup.save_dir / PROBS_NAME).read_bytes())
            with atomic_output(self.run_dir / "warmup_dir.txt") as tmp:
                tmp.write_text(f"{warmup.save_dir.resolve()}\n")
        elapsed = time.perf_counter() - start
        log.info(
            f"θ-IS warmup done in {elapsed:.1f} s: π over {probs.numel()} paths in "
            f"[{probs.min().item():.6f}, {probs.max().item():.6f}] (uniform "
            f"{1 / probs.numel():.6f}), from {str(warmup.save_dir)!r}"
        )
