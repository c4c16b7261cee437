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
from dataclasses import replace
from pathlib import Path

import lightning.pytorch as pl

from experiments.audio_io import atomic_output
from experiments.theta_is import prepare_warmup
from experiments.theta_is_ranks import SINGLE, Ranks, warmup_on_ranks
from scrapl.validation import check_int, check_positive

# The file the warmup writes once π is complete.
from scrapl.warmup.store import PROBS_NAME

__all__ = ["ThetaIS"]

log = logging.getLogger(__name__)


def _strategy_ranks(trainer: pl.Trainer) -> Ranks:
    """The collectives of the trainer's strategy (:class:`Ranks`)."""
    if trainer.world_size == 1:
        return SINGLE
    strategy = trainer.strategy
    return Ranks(
        rank=trainer.global_rank,
        world_size=trainer.world_size,
        broadcast=lambda obj: strategy.broadcast(obj, src=0),
        all_true=lambda flag: bool(strategy.reduce_boolean_decision(bool(flag), all=True)),
    )


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

    With ``warmup_dir`` (a complete warmup folder, e.g. the one ``scripts/train.py`` makes
    for ``theta_is.seed``: the warmup of a run with another seed, shared by a sweep) π is
    loaded from that folder instead of computed, and copied into ``run_dir`` the same way.

    Under DDP (``trainer.world_size > 1``) every rank uses rank 0's folder and batches, the
    paths are split over the ranks by range, a rank that is done waits on the folder (up to
    ``wait_timeout_s``, outside any collective), and every rank loads the one ``probs.pt``,
    checked equal on all ranks before the first step
    (:func:`~experiments.theta_is_ranks.warmup_on_ranks`). ``cache_dir`` must be on a file
    system shared by all ranks.

    Args:
        cache_dir: the folder of warmup directories, shared by runs.
        label: the readable part of the warmup directory's name (e.g. experiment and preset).
        run_dir: the run's own θ-IS folder (gets a copy of ``probs.pt``).
        n_examples: number of training examples in the warmup (the first of epoch 0).
        batch_size: warmup batch size.
        n_iter: power iterations per (path, θ dim, batch).
        wait_timeout_s: under DDP, how long a rank that finished its paths waits for the
            others' (seconds, > 0).
        warmup_dir: a complete warmup folder to load π from, or None (compute it).
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike,
        label: str,
        run_dir: str | os.PathLike,
        n_examples: int,
        batch_size: int,
        n_iter: int = 20,
        wait_timeout_s: float = 6 * 3600.0,
        warmup_dir: str | os.PathLike | None = None,
    ) -> None:
        super().__init__()
        if warmup_dir is not None and not isinstance(warmup_dir, (str, os.PathLike)):
            raise TypeError(f"warmup_dir must be None, a str or os.PathLike, got {warmup_dir!r}")
        self.warmup_dir = None if warmup_dir is None else Path(warmup_dir)
        for name, value in (("cache_dir", cache_dir), ("run_dir", run_dir)):
            if not isinstance(value, (str, os.PathLike)) or os.fspath(value) == "":
                raise TypeError(f"{name} must be a non-empty str or os.PathLike, got {value!r}")
        self.cache_dir = Path(cache_dir)
        self.label = str(label)
        self.run_dir = Path(run_dir)
        self.n_examples = check_int("n_examples", n_examples, 1)
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.n_iter = check_int("n_iter", n_iter, 1)
        self.wait_timeout_s = check_positive("wait_timeout_s", wait_timeout_s)

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
        if self.warmup_dir is not None:
            probs = loss.load_probs_from_warmup_dir(self.warmup_dir)
            self._keep(trainer, self.warmup_dir)
            log.info(
                f"θ-IS: π over {probs.numel()} paths in [{probs.min().item():.6f}, "
                f"{probs.max().item():.6f}] loaded from {str(self.warmup_dir)!r}"
            )
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
        probs, save_dir = warmup_on_ranks(
            loss, pl_module.encoder, pl_module.synth, warmup, self.n_iter,
            ranks=_strategy_ranks(trainer), wait_timeout_s=self.wait_timeout_s,
        )  # fmt: skip
        warmup = replace(warmup, save_dir=save_dir)
        self._keep(trainer, warmup.save_dir)
        elapsed = time.perf_counter() - start
        log.info(
            f"θ-IS warmup done in {elapsed:.1f} s: π over {probs.numel()} paths in "
            f"[{probs.min().item():.6f}, {probs.max().item():.6f}] (uniform "
            f"{1 / probs.numel():.6f}), from {str(warmup.save_dir)!r}"
        )

    def _keep(self, trainer: pl.Trainer, save_dir: Path) -> None:
        """The run's copy of π, and the name of the warmup folder it came from (rank 0)."""
        if not trainer.is_global_zero:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with atomic_output(self.run_dir / PROBS_NAME) as tmp:
            tmp.write_bytes((save_dir / PROBS_NAME).read_bytes())
        with atomic_output(self.run_dir / "warmup_dir.txt") as tmp:
            tmp.write_text(f"{save_dir.resolve()}\n")
