"""Callback recording the SCRAPL path sampler's state: a plot per epoch and a counts table.

At the end of a validation epoch, if the LightningModule's ``loss`` exposes ``probs``
(``(n_paths,)`` sampling probabilities) and ``path_counts`` (``{path index: steps}``), it
writes::

    <out_dir>/epoch{E:03d}_paths.png   probability per path (with 1/n_paths) + visit counts
    <out_dir>/path_counts.csv          path_idx,prob,count; one row per path, overwritten

and sends the figure to image-capable loggers like :class:`AudioExamples` does. Losses
without a path sampler (plain MSS, full JTFS, ...) are skipped silently, so the callback can
be attached to every run. Under multi-device training only rank 0 writes, so the counts are
those of rank 0's loss object.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

import lightning.pytorch as pl
from torch import Tensor

from experiments.audio_io import atomic_output
from experiments.callbacks.audio_examples import log_figure_to_loggers, should_log
from experiments.plots import path_counts_array, path_figure, save_figure
from scrapl.validation import check_int

__all__ = ["PathPlots", "write_path_counts_csv"]


def write_path_counts_csv(
    path: Path, probs: Tensor, counts: Mapping[int, int] | Tensor, n_paths: int
) -> None:
    """Write ``path_idx,prob,count`` for all ``n_paths`` paths to ``path``, atomically.

    ``prob`` is written with ``repr`` (shortest exact round-trip of the float64 value);
    ``counts`` is a dict or tensor as accepted by :func:`experiments.plots.path_counts_array`.
    """
    n_paths = check_int("n_paths", n_paths, 1)
    if not isinstance(probs, Tensor):
        raise TypeError(f"probs must be a torch.Tensor, got {type(probs).__name__}")
    p = [float(v) for v in probs.detach().to("cpu").reshape(-1).tolist()]
    if len(p) != n_paths:
        raise ValueError(f"probs has {len(p)} entries but n_paths is {n_paths}")
    c = path_counts_array(counts, n_paths)
    with atomic_output(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path_idx", "prob", "count"])
        writer.writerows((i, repr(p[i]), int(c[i])) for i in range(n_paths))


class PathPlots(pl.Callback):
    """Plot SCRAPL's path probabilities / visit counts and keep a CSV of them.

    Args:
        out_dir: folder of the PNGs and of ``path_counts.csv``, created when first used.
        every_n_epochs: write at the end of validation epochs with
            ``(epoch + 1) % every_n_epochs == 0`` (see
            :func:`experiments.callbacks.audio_examples.should_log`).

    Reads ``pl_module.loss.probs``, ``.path_counts`` and ``.n_paths`` (``n_paths`` defaults
    to ``probs.numel()`` when absent).
    """

    def __init__(self, out_dir: str, every_n_epochs: int = 1) -> None:
        super().__init__()
        if not isinstance(out_dir, str) or not out_dir:
            raise TypeError(f"out_dir must be a non-empty str (a folder), got {out_dir!r}")
        self.out_dir = Path(out_dir)
        self.every_n_epochs = check_int("every_n_epochs", every_n_epochs, 1)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not should_log(trainer, self.every_n_epochs):
            return
        loss = getattr(pl_module, "loss", None)
        probs = getattr(loss, "probs", None)
        counts = getattr(loss, "path_counts", None)
        if probs is None or counts is None:
            return
        n_paths = getattr(loss, "n_paths", None)
        if n_paths is None:
            n_paths = probs.numel()

        fig = path_figure(probs, counts, n_paths)
        png = self.out_dir / f"epoch{trainer.current_epoch:03d}_paths.png"
        save_figure(fig, png)
        write_path_counts_csv(self.out_dir / "path_counts.csv", probs, counts, n_paths)
        log_figure_to_loggers(trainer, "scrapl/path_sampling", fig, png)
