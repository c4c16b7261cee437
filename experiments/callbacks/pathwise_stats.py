"""Callback logging how stale SCRAPL's P-SAGA table is, and how spread θ-IS's π is.

Opt-in (``callbacks=[default,pathwise_stats]``): it switches on the loss's per-step
statistics (:mod:`scrapl.pathwise.step_stats`) and logs them with every training row of the
metrics, every ``every_n_steps`` steps:

* ``pathwise/stored_cos``: cosine of a revisited path's stored P-SAGA entry with its fresh
  P-Adam output (NaN on a first visit); ``pathwise/stored_age``: steps since that entry was
  stored; ``pathwise/table_age``: mean age of the table's entries; ``pathwise/table_paths``;
  ``pathwise/revisit``;
* ``pathwise/norm_ratio``: 2-norm of the gradient handed to the optimizer over that of
  P-Adam's output (``raw_norm``, ``out_norm``);
* ``pathwise/hat_cos``, ``pathwise/out_cos``: cosine of the step's own gradient with P-Adam's
  output and with the update: how much of the step follows the network as it is now;
* ``theta_is/entropy``: the entropy of the path probabilities π over that of the uniform
  distribution (1: uniform), and ``theta_is/effective_paths``: ``exp(H(π))``.

Losses without path-wise transforms are skipped (a warning once), so the callback can be
attached to every run. The statistics are computed on the device during the step and read
here, once per logged step.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import lightning.pytorch as pl
import torch

from scrapl.validation import check_int

__all__ = ["PathwiseStats", "probs_entropy"]

log = logging.getLogger(__name__)


def probs_entropy(probs: torch.Tensor) -> tuple[float, float]:
    """``(H(π) / log P, exp(H(π)))`` of path probabilities ``probs`` ``(P,)`` (natural log;
    a zero probability adds nothing). ``P = 1`` gives ``(1, 1)``."""
    if not isinstance(probs, torch.Tensor) or probs.ndim != 1 or probs.numel() == 0:
        raise ValueError(f"probs must be a non-empty 1-D tensor, got {probs!r}")
    p = probs.detach().double().cpu()
    p = p / p.sum()
    h = float(-(p[p > 0] * p[p > 0].log()).sum())
    n = p.numel()
    return (1.0 if n == 1 else h / math.log(n)), math.exp(h)


class PathwiseStats(pl.Callback):
    """Log P-SAGA staleness and π's entropy per training step (module docstring).

    Args:
        every_n_steps: log at global steps divisible by this (the statistics are computed
            at every step while the callback is attached; reading them is what it saves).
    """

    def __init__(self, every_n_steps: int = 1) -> None:
        super().__init__()
        self.every_n_steps = check_int("every_n_steps", every_n_steps, 1)
        self.transform = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        transform = getattr(getattr(pl_module, "loss", None), "pathwise", None)
        if transform is None or not (transform.use_p_adam or transform.use_p_saga):
            log.warning("PathwiseStats: the loss has no P-Adam/P-SAGA; nothing to log")
            return
        self.transform = transform
        transform.record_stats = True

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.transform is not None:
            self.transform.record_stats = False
            self.transform.last_stats = None

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if self.transform is None or trainer.global_step % self.every_n_steps:
            return
        stats = self.transform.last_stats
        if stats is None:
            return
        kw = {"on_step": True, "on_epoch": False, "batch_size": 1}
        values = torch.stack([v.double() for v in stats.values()]).cpu().tolist()
        for name, value in zip(stats, values, strict=True):
            pl_module.log(f"pathwise/{name}", value, **kw)
        probs = getattr(pl_module.loss, "probs", None)
        if probs is not None:
            entropy, effective = probs_entropy(probs)
            pl_module.log("theta_is/entropy", entropy, **kw)
            pl_module.log("theta_is/effective_paths", effective, **kw)
