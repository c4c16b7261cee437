"""Callback logging the wall-clock cost of training: seconds per step and in total.

Logged with every training row of the metrics (``log_every_n_steps``):

* ``time/step_s``: seconds from the start of the training batch to its end (forward,
  backward, gradient transforms and optimizer step; data loading and validation excluded);
* ``time/train_s``: those seconds summed over every step so far, the time axis of the
  validation curves. It is kept in checkpoints, so a resumed run continues the count;
* ``time/warmup_s``: seconds from the start of the fit to its first step: the θ-IS warmup
  when the run computes one (SCRAPL; near 0 when the warmup was found in the cache or
  ``loss.probs_path`` was given), plus the fit's own set-up. The cost of a run is
  ``time/train_s + time/warmup_s``; the analysis shows both. Kept in checkpoints: a resumed
  run keeps its first fit's value.

On CUDA the device is synchronised at both ends, so that the time is the step's, not the
launch's.
"""

from __future__ import annotations

import time
from typing import Any

import lightning.pytorch as pl
import torch

__all__ = ["StepTimer"]


class StepTimer(pl.Callback):
    """Log ``time/step_s`` and ``time/train_s`` (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.train_s = 0.0
        self.warmup_s: float | None = None
        self._start: float | None = None
        self._fit_started: float | None = None

    @staticmethod
    def _sync(pl_module: pl.LightningModule) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize(pl_module.device)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage == "fit":
            self._fit_started = time.perf_counter()

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.warmup_s is None and self._fit_started is not None:  # not restored
            self.warmup_s = time.perf_counter() - self._fit_started

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self._sync(pl_module)
        self._start = time.perf_counter()

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if self._start is None:
            return
        self._sync(pl_module)
        step_s = time.perf_counter() - self._start
        self._start = None
        self.train_s += step_s
        kw = {"on_step": True, "on_epoch": False, "batch_size": 1}
        pl_module.log("time/step_s", step_s, **kw)
        pl_module.log("time/train_s", self.train_s, **kw)
        if self.warmup_s is not None:
            pl_module.log("time/warmup_s", self.warmup_s, **kw)

    def state_dict(self) -> dict[str, float | None]:
        return {"train_s": self.train_s, "warmup_s": self.warmup_s}

    def load_state_dict(self, state_dict: dict[str, float | None]) -> None:
        self.train_s = float(state_dict.get("train_s", 0.0))
        warmup = state_dict.get("warmup_s")
        self.warmup_s = None if warmup is None else float(warmup)
