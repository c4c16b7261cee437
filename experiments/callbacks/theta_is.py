"""Lightning callback running the θ-IS warmup before training (Mitcheltree et al., ICLR 2026).

SCRAPL's θ-importance sampling (§3) sets the path probabilities π once, before the first
step, from the curvature each path induces on the encoder. :class:`ThetaIS` runs
:func:`experiments.theta_is.run_theta_is` at ``on_fit_start`` on the training set of the
run's datamodule, so that π is in place for the first training step and is saved with every
checkpoint (it is part of the loss's state).

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

from experiments.theta_is import run_theta_is
from scrapl.validation import check_int
from scrapl.warmup_store import PROBS_NAME  # the file scrapl.warmup writes once π is complete

__all__ = ["ThetaIS"]

log = logging.getLogger(__name__)


class ThetaIS(pl.Callback):
    """Set a SCRAPL loss's path probabilities π by θ-IS warmup when a fit starts.

    Nothing is done (an INFO line says why) when

    * the module's ``loss`` has no ``warmup_lc_hvp`` (not a SCRAPL loss);
    * ``loss.probs_path`` is set: the loss already loaded π from that ``probs.pt``;
    * the fit resumes from a checkpoint (``trainer.ckpt_path`` is set): π comes back with the
      loss's state in the checkpoint. With strategies that restore the checkpoint only after
      ``on_fit_start`` (FSDP, DeepSpeed, model-parallel) the path is not known yet, so the
      warmup runs (or, with the same ``save_dir``, only re-reads its files) and the
      checkpoint's π then replaces the result: correct, only slower.

    Otherwise the warmup runs over all paths and θ dims with the module's ``encoder`` and
    ``synth`` on ``trainer.datamodule.train_dataset``; the library sets π on the loss and
    writes ``probs.pt`` (π before the ``min_prob_frac`` floor) into ``save_dir``. A warmup
    killed before training resumes from the per-(path, θ) files in ``save_dir`` when the run
    is restarted with the same seed (the directory fingerprints the encoder's initial
    weights, see :mod:`experiments.theta_is`).

    Under DDP (``trainer.world_size > 1``) every rank runs the warmup on the same examples
    and the same (broadcast) initial weights, writing into the same ``save_dir`` (atomic
    files; a rank skips the values another rank has already written). Then all ranks wait
    for each other and reload π from the one final ``probs.pt``, so that they sample paths
    from bit-identical π (ranks on different GPUs could otherwise differ in the last bits).
    ``save_dir`` must therefore be on a file system shared by all ranks.

    Args:
        save_dir: the run's warmup directory.
        n_examples: number of training examples in the warmup (spread evenly over the
            training set, see :func:`experiments.theta_is.warmup_indices`).
        batch_size: warmup batch size.
        n_iter: power iterations per (path, θ dim, batch).
    """

    def __init__(
        self, save_dir: str | os.PathLike, n_examples: int, batch_size: int, n_iter: int = 20
    ) -> None:
        super().__init__()
        if not isinstance(save_dir, (str, os.PathLike)):
            raise TypeError(f"save_dir must be a str or os.PathLike, got {type(save_dir).__name__}")
        if os.fspath(save_dir) == "":
            raise ValueError("save_dir must be a non-empty path")
        self.save_dir = Path(save_dir)
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
        dataset = getattr(trainer.datamodule, "train_dataset", None)
        if dataset is None:
            raise RuntimeError(
                "ThetaIS needs the training set as trainer.datamodule.train_dataset (fit with "
                "a datamodule that sets it in __init__ or setup('fit'))"
            )
        start = time.perf_counter()
        probs = run_theta_is(
            loss,
            pl_module.encoder,
            pl_module.synth,
            dataset,
            n_examples=self.n_examples,
            batch_size=self.batch_size,
            save_dir=self.save_dir,
            n_iter=self.n_iter,
        )
        if probs is None:  # cannot happen for the full range unless files vanish meanwhile
            raise RuntimeError(
                f"θ-IS warmup in {str(self.save_dir)!r} did not complete: some (path, θ) "
                "values are missing"
            )
        if trainer.world_size > 1:
            trainer.strategy.barrier("theta_is_warmup")
            loss.load_probs(self.save_dir / PROBS_NAME)
            probs = loss.probs
        elapsed = time.perf_counter() - start
        log.info(
            f"θ-IS warmup done in {elapsed:.1f} s: π over {probs.numel()} paths in "
            f"[{probs.min().item():.6f}, {probs.max().item():.6f}] (uniform "
            f"{1 / probs.numel():.6f}), saved to {str(self.save_dir / PROBS_NAME)!r}"
        )
