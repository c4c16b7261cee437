"""``last.ckpt`` every N training steps and when the job is asked to stop (a signal).

The epoch-end ``last.ckpt`` (configs/callbacks/last_checkpoint.yaml) loses up to an epoch
when a job is killed; this callback writes the same file in the middle of epochs:

* every ``every_n_train_steps`` optimizer steps (a multiple that falls on an epoch's last
  batch is left to the epoch-end checkpoint, or written after the next step when that one
  was not written: ``every_n_epochs`` of the epoch-end callback),
* after the last step of a fit that stops on its own before the end of an epoch
  (``trainer.max_steps``, ``trainer.max_time``, anything setting ``trainer.should_stop``
  during a training step): the epoch-end checkpoint would mark the epoch done, and a run
  resumed from it would skip the epoch's remaining batches
  (:class:`~experiments.callbacks.model_checkpoint.RunModelCheckpoint` skips that one), and
* after the step during which a stop signal arrived: SIGTERM (what SLURM sends a preempted
  or cancelled job before it kills it; Lightning's own handler only sets
  ``trainer.received_sigterm``) and the ``signals`` listed, e.g. ``SIGUSR2``, submitit's
  signal before a time limit. The step in progress is finished, the file written, and then
  the signal's previous handler runs (submitit's requeues the job, which resumes from the
  file: ``auto_resume=true``); without one the fit stops as after SIGTERM.

Under data parallel, the ranks agree at every step on whether one of them got a signal, so
that all write (a collective) and stop at the same step. With the resumable training loader
(:class:`~experiments.data.resumable_loader.ResumableDataLoader`) and the module's RNG state,
resuming from such a checkpoint continues at the next batch and ends with the weights of the
uninterrupted run. Files go through the trainer's checkpoint IO (atomic with
:class:`~experiments.checkpoint_io.AtomicCheckpointIO`). A signal during validation stops
the run at the next training step, i.e. after the validation.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Checkpoint

from scrapl.validation import check_int

__all__ = ["StepCheckpoint", "epoch_complete", "fit_ends_after_this_step"]

log = logging.getLogger(__name__)


def epoch_complete(trainer: pl.Trainer) -> bool:
    """Whether every batch of the current training epoch has been trained on."""
    progress = trainer.fit_loop.epoch_loop.batch_progress
    n_batches = trainer.num_training_batches
    if n_batches == float("inf"):  # a loader without a length: the fetcher knows
        return bool(progress.is_last_batch)
    return progress.current.ready >= n_batches


def fit_ends_after_this_step(trainer: pl.Trainer) -> bool:
    """Whether Lightning's fit stops after the training step that just ended (as its
    training epoch loop decides: ``max_steps`` reached, or ``should_stop`` with
    ``min_epochs`` / ``min_steps`` met)."""
    max_steps = trainer.max_steps
    if max_steps is not None and max_steps >= 0 and trainer.global_step >= max_steps:
        return True
    return bool(trainer.should_stop and getattr(trainer.fit_loop, "_can_stop_early", True))


class StepCheckpoint(Checkpoint):
    """Write ``dirpath/filename.ckpt`` every N steps, at a mid-epoch end of the fit and on
    SIGTERM.

    Args:
        dirpath: folder of the checkpoint (a run's ``checkpoints/``).
        filename: file name without ``.ckpt`` (``last``: what ``ckpt_path=`` resumes).
        every_n_train_steps: steps between two files (>= 1), or None for signals only.
        signals: names of signals besides SIGTERM that write the file and then run their
            previous handler (``["SIGUSR2"]`` under submitit), e.g. ``[]``.
    """

    def __init__(
        self,
        dirpath: str | Path,
        filename: str = "last",
        every_n_train_steps: int | None = None,
        signals: Sequence[str] = (),
    ) -> None:
        super().__init__()
        if not isinstance(dirpath, (str, Path)):
            raise TypeError(f"dirpath must be a folder path, got {type(dirpath).__name__}")
        if not isinstance(filename, str) or not filename or "/" in filename:
            raise ValueError(f"filename must be a file name without folders, got {filename!r}")
        self.path = Path(dirpath) / f"{filename}.ckpt"
        self.every_n_train_steps = (
            None
            if every_n_train_steps is None
            else check_int("every_n_train_steps", every_n_train_steps, 1)
        )
        if isinstance(signals, str) or not all(isinstance(n, str) for n in signals):
            raise TypeError(f"signals must be a list of signal names, got {signals!r}")
        valid = sorted(s.name for s in signal.Signals)
        unknown = [n for n in signals if n not in valid or n in ("SIGKILL", "SIGSTOP")]
        if unknown:
            raise ValueError(
                f"signals: {unknown} cannot be caught; accepted: catchable names of "
                f"signal.Signals, e.g. SIGUSR1, SIGUSR2, SIGINT"
            )
        self.signals = [signal.Signals[n] for n in signals if n != "SIGTERM"]
        self.last_saved_step: int | None = None
        self._deferred: int | None = None
        self._received: list[signal.Signals] = []
        self._previous: dict[signal.Signals, Any] = {}

    # -- signals -----------------------------------------------------------------------------

    def _notice(self, signum: int, frame: FrameType | None) -> None:
        # Only noted here: the checkpoint is written at the end of the step in progress.
        self._received.append(signal.Signals(signum))

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for sig in self.signals:
            self._previous[sig] = signal.signal(sig, self._notice)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def _stop_requested(self, trainer: pl.Trainer) -> bool:
        local = bool(trainer.received_sigterm or self._received)
        return bool(trainer.strategy.reduce_boolean_decision(local, all=False))

    def _hand_over(self, trainer: pl.Trainer) -> None:
        """After the file is written: the received signals' previous handlers, else stop."""
        received, self._received = self._received, []
        for sig in received:
            previous = self._previous.get(sig)
            if callable(previous):
                previous(int(sig), None)
        # Lightning stops after this step when the flag is set, on every rank alike.
        trainer._signal_connector.received_sigterm = True

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
        batch_idx: int,
    ) -> None:  # fmt: skip
        step = trainer.global_step
        if self._stop_requested(trainer):
            log.info(f"Stop signal: writing {self.path} at step {step} before stopping")
            self._save(trainer, step)
            self._hand_over(trainer)
            return
        n = self.every_n_train_steps
        due = n is not None and step % n == 0
        if epoch_complete(trainer):
            # The epoch-end checkpoint may follow (every_n_epochs): decided at the next step.
            self._deferred = step if due else None
            return
        deferred, self._deferred = self._deferred, None
        if deferred is not None and not self._written_since(trainer, deferred):
            due = True
        if fit_ends_after_this_step(trainer) or due:
            self._save(trainer, step)

    def _written_since(self, trainer: pl.Trainer, step: int) -> bool:
        """Whether another checkpoint callback wrote this file at ``step`` or later."""
        return any(
            getattr(cb, "_last_checkpoint_saved", None)
            and Path(cb._last_checkpoint_saved) == self.path
            and getattr(cb, "_last_global_step_saved", -1) >= step
            for cb in trainer.checkpoint_callbacks
            if cb is not self
        )

    def _save(self, trainer: pl.Trainer, step: int) -> None:
        if self.last_saved_step == step:
            return
        trainer.save_checkpoint(self.path)
        self.last_saved_step = step
