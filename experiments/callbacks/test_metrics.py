"""Callback adding audio metrics to the test split: per example, averaged, and over the set.

The LightningModule's ``test_step`` keeps the audio it compared in ``test_audio``: ``"x"``
(target) and ``"x_hat"`` (reconstruction), ``(B, 1, n)`` with any alignment pad already
removed (see :class:`experiments.module.SoundMatching`; the callback sets its
``keep_test_audio``, so that a loss comparing θ renders them too). Each metric of
``metrics`` is one of

* an audio distance ``metric(x_hat, x) -> scalar`` averaged over its batch (an auraloss MSS,
  :class:`scrapl.JTFSLoss`): evaluated on every example alone, logged as ``test/<name>``;
* a module returning a mapping ``key -> (B,)`` values, one per example (e.g.
  :class:`experiments.metrics.tr808_features.TR808FeatureDistances`): each entry logged as
  ``test/<key>``;
* a set metric, recognised by its ``compare_sets(x_hat_all, x_all) -> float`` method (e.g.
  :class:`experiments.metrics.embeddings.FrechetAudioDistanceMetric`): evaluated once on the
  whole test split at the end and logged as ``test/<name>``.

The ``test/*`` values of the first two kinds are means over the test examples; with
``table_path`` every example's values are also written (atomically) to a CSV table, one row
per example in test order, with its ``name``, ``drum_type`` and ``index`` when the batch has
them. ``scripts/evaluate.py`` uses the callback to give old checkpoints new metrics (e.g. the
full JTFS distance of the paper's Fig. 3); the TR-808 experiments attach it to every run.
Under multi-device testing each rank sees its own share of the examples: run the test on one
device for set metrics and tables.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch import Tensor, nn

from experiments.audio_io import atomic_output

__all__ = ["TestMetrics"]

_ID_KEYS = ("name", "drum_type", "index")


def _values(name: str, value: object, n: int) -> np.ndarray:
    if isinstance(value, Tensor):
        value = value.detach().cpu().numpy()
    array = np.asarray(value, dtype=np.float64).reshape(-1)
    if array.shape != (n,):
        raise ValueError(
            f"metric {name!r} must give one value per example ({n}), got {array.shape}"
        )
    return array


class TestMetrics(pl.Callback):
    """Log ``test/<name>`` for every metric of ``metrics`` (see the module doc).

    Args:
        metrics: name -> metric module; names must be non-empty and free of ``/``.
        table_path: CSV file of the per-example values (None: no table).
    """

    __test__ = False  # a callback, not a pytest test class

    def __init__(
        self, metrics: Mapping[str, nn.Module], table_path: str | os.PathLike | None = None
    ) -> None:
        super().__init__()
        if not isinstance(metrics, Mapping):
            raise TypeError(f"metrics must be a mapping name -> module, got {type(metrics)}")
        for name, metric in metrics.items():
            if not isinstance(name, str) or not name or "/" in name:
                raise ValueError(f"metric names must be non-empty and without '/', got {name!r}")
            if not isinstance(metric, nn.Module):
                raise TypeError(f"metrics[{name!r}] must be a torch.nn.Module, got {type(metric)}")
        self.metrics = dict(metrics)
        self.set_metrics = {
            k: m for k, m in self.metrics.items() if callable(getattr(m, "compare_sets", None))
        }
        self.table_path = None if table_path is None else Path(table_path)
        self._rows: list[dict[str, Any]] = []
        self._audio: list[tuple[Tensor, Tensor]] = []
        self._kinds: dict[str, str] = {}
        #: The ``test/*`` names logged by the last test, in order.
        self.logged_names: list[str] = []

    def on_test_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Asks the module for the reconstructions even when its loss compares θ (P-loss).
        pl_module.keep_test_audio = True
        for metric in self.metrics.values():
            metric.to(pl_module.device).eval()
        self._rows, self._audio, self.logged_names = [], [], []

    def _per_example(self, name: str, metric: nn.Module, x_hat: Tensor, x: Tensor) -> dict:
        n = x.shape[0]
        if self._kinds.get(name) == "mapping":
            value = metric(x_hat, x)
            return {str(k): _values(f"{name}.{k}", v, n) for k, v in value.items()}
        # A batch mean: evaluated on each example alone, so that it can be tabled. The first
        # call tells which kind of metric this is.
        first = metric(x_hat[:1], x[:1])
        if isinstance(first, Mapping):
            self._kinds[name] = "mapping"
            return self._per_example(name, metric, x_hat, x)
        self._kinds[name] = "mean"
        rest = [metric(x_hat[i : i + 1], x[i : i + 1]) for i in range(1, n)]
        return {name: _values(name, torch.stack([first, *rest]), n)}

    def _example_values(self, x_hat: Tensor, x: Tensor) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for name, metric in self.metrics.items():
            if name in self.set_metrics:
                continue
            for key, values in self._per_example(name, metric, x_hat, x).items():
                if key in out or key in _ID_KEYS or key in self.set_metrics:
                    raise ValueError(f"two test metrics are called {key!r}: rename one")
                out[key] = values
        return out

    def on_test_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        audio = getattr(pl_module, "test_audio", None)
        if not isinstance(audio, Mapping) or "x" not in audio or "x_hat" not in audio:
            raise TypeError(
                "TestMetrics needs the module's test_step to keep the compared audio in "
                "test_audio = {'x': ..., 'x_hat': ...} (SoundMatching does), got "
                f"{type(audio).__name__}"
            )
        x, x_hat = audio["x"], audio["x_hat"]
        n = x.shape[0]
        with torch.no_grad():
            values = self._example_values(x_hat, x)
        for key, v in values.items():
            self._log(pl_module, key, float(v.mean()), batch_size=n)
        ids = {k: batch[k] for k in _ID_KEYS if isinstance(batch, Mapping) and k in batch}
        for i in range(n):
            row: dict[str, Any] = {"example": len(self._rows)}
            for k, v in ids.items():
                row[k] = v[i].item() if isinstance(v, Tensor) else v[i]
            row.update({k: float(v[i]) for k, v in values.items()})
            self._rows.append(row)
        if self.set_metrics:
            self._audio.append((x_hat.detach().cpu(), x.detach().cpu()))

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.set_metrics and self._audio:
            x_hat = torch.cat([a for a, _ in self._audio])
            x = torch.cat([b for _, b in self._audio])
            for name, metric in self.set_metrics.items():
                self._log(pl_module, name, float(metric.compare_sets(x_hat, x)), batch_size=1)
        self._audio = []
        if self.table_path is not None and self._rows and trainer.is_global_zero:
            self._write_table()

    def _log(self, pl_module: pl.LightningModule, key: str, value: float, batch_size: int) -> None:
        name = f"test/{key}"
        pl_module.log(name, value, on_step=False, on_epoch=True, batch_size=batch_size)
        if name not in self.logged_names:
            self.logged_names.append(name)

    def _write_table(self) -> None:
        columns = list(dict.fromkeys(k for row in self._rows for k in row))
        self.table_path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(self.table_path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(self._rows)
