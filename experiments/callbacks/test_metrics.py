"""Callback adding audio distances to the test split: ``test/<name>`` per metric module.

For every test batch the target ``x = synth(θ, seed)`` and the reconstruction
``x̂ = synth(encoder(x), seed_hat)`` are rendered again as the LightningModule renders them
(its ``synth`` and ``forward``, the batch's target seeds and the test split's reconstruction
seeds of :func:`experiments.data.recon_seeds.reconstruction_seeds`; the encoder is in eval
mode, so both are the module's own), and each metric ``metric(x̂, x) -> scalar`` is logged as
``test/<name>``, averaged over the test examples. ``scripts/evaluate.py`` uses it to give
old checkpoints new metrics (e.g. the full JTFS distance of the paper's Fig. 3).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn

from experiments.data.recon_seeds import reconstruction_seeds

__all__ = ["TestMetrics"]


class TestMetrics(pl.Callback):
    """Log ``test/<name>`` for every ``name: metric`` of ``metrics`` (see the module doc).

    Args:
        metrics: audio distances, ``metric(x_hat (B, 1, N), x (B, 1, N)) -> scalar``; the
            names become the metric names, so they must be non-empty and free of ``/``.
    """

    __test__ = False  # a callback, not a pytest test class

    def __init__(self, metrics: Mapping[str, nn.Module]) -> None:
        super().__init__()
        if not isinstance(metrics, Mapping):
            raise TypeError(f"metrics must be a mapping name -> module, got {type(metrics)}")
        for name, metric in metrics.items():
            if not isinstance(name, str) or not name or "/" in name:
                raise ValueError(f"metric names must be non-empty and without '/', got {name!r}")
            if not isinstance(metric, nn.Module):
                raise TypeError(f"metrics[{name!r}] must be a torch.nn.Module, got {type(metric)}")
        self.metrics = dict(metrics)

    def on_test_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for metric in self.metrics.values():
            metric.to(pl_module.device).eval()

    def on_test_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        with torch.no_grad():
            x = pl_module.synth(batch["theta"], batch["seed"])
            seed_hat = reconstruction_seeds(
                pl_module.seed, "test", pl_module.current_epoch, batch["seed"]
            )
            x_hat = pl_module.synth(pl_module(x), seed_hat)
            for name, metric in self.metrics.items():
                value = metric(x_hat, x)
                pl_module.log(f"test/{name}", value, on_step=False, on_epoch=True,
                              batch_size=x.shape[0])  # fmt: skip
