"""Callback writing validation audio examples (WAV) and their spectrograms (PNG).

At the end of a validation epoch the LightningModule's ``val_examples`` (set during the
first validation batch: targets ``x``, reconstructions ``x_hat``, true ``theta`` and
predicted ``theta_hat``) are saved as::

    <out_dir>/epoch{E:03d}_ex{i}_target.wav      32-bit float WAV at synth.sr, unclipped
    <out_dir>/epoch{E:03d}_ex{i}_recon.wav
    <plot_dir>/epoch{E:03d}_spectrograms.png    target | reconstruction rows (log frequency),
                                                named by file when recorded, θ / θ̂ tables

and the figure is also sent to every attached logger that can take images: W&B-style
loggers (``log_image``) and TensorBoard-style ones (``experiment.add_figure``).

Also home of the two helpers shared with :mod:`experiments.callbacks.path_plots`:
:func:`should_log` (when to act) and :func:`log_figure_to_loggers`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from pathlib import Path

import lightning.pytorch as pl
from matplotlib.figure import Figure

from experiments.audio_io import write_wav
from experiments.plots import save_figure, spectrogram_figure
from scrapl.validation import check_int

__all__ = ["AudioExamples", "log_figure_to_loggers", "should_log"]


def should_log(trainer: pl.Trainer, every_n_epochs: int) -> bool:
    """Whether an end-of-validation callback should write this time.

    False during Lightning's sanity check (the model is untrained and the epoch counter
    would collide with the real epoch 0), on non-zero ranks (one writer per run), and unless
    ``(current_epoch + 1) % every_n_epochs == 0``. The ``+ 1`` is Lightning's own rule for
    ``check_val_every_n_epoch``, so equal settings of the two fire on the same epochs
    (``every_n_epochs=5`` -> epochs 4, 9, ...).
    """
    if trainer.sanity_checking or not trainer.is_global_zero:
        return False
    return (trainer.current_epoch + 1) % every_n_epochs == 0


def log_figure_to_loggers(trainer: pl.Trainer, tag: str, fig: Figure, png_path: Path) -> None:
    """Send a figure (already saved at ``png_path``) to every logger able to show images.

    A logger with a ``log_image(key, images, step)`` method (Lightning's ``WandbLogger``)
    gets the PNG file; otherwise one whose ``experiment`` has ``add_figure`` (TensorBoard's
    ``SummaryWriter``) gets the figure itself. Loggers with neither are skipped. Errors from
    the loggers propagate: a broken logger should be noticed, not hidden.
    """
    for logger in trainer.loggers:
        log_image = getattr(logger, "log_image", None)
        if callable(log_image):
            log_image(key=tag, images=[str(png_path)], step=trainer.global_step)
            continue
        add_figure = getattr(getattr(logger, "experiment", None), "add_figure", None)
        if callable(add_figure):
            # close=False: TensorBoard would otherwise call pyplot.close on a figure that
            # pyplot never owned.
            add_figure(tag, fig, global_step=trainer.global_step, close=False)


def wav_sample_rate(sr: object) -> int:
    """``synth.sr`` as the integer rate a WAV header stores (e.g. ``44100.0`` -> 44100)."""
    if isinstance(sr, bool) or not isinstance(sr, numbers.Real):
        raise TypeError(f"synth.sr must be a number (Hz), got {sr!r}")
    value = float(sr)
    if not math.isfinite(value) or value < 1 or value != round(value):
        raise ValueError(f"synth.sr must be a whole number of Hz >= 1 for WAV files, got {sr}")
    return int(value)


class AudioExamples(pl.Callback):
    """Write the first ``n_examples`` validation examples as WAV files plus a spectrogram PNG.

    Args:
        out_dir: folder of the WAV files (e.g. ``"<run>/audio"``), created when first used.
        plot_dir: folder of the spectrogram PNGs (e.g. ``"<run>/plots"``).
        n_examples: how many examples to write (>= 1); fewer if the batch is smaller.
        every_n_epochs: write at the end of validation epochs with
            ``(epoch + 1) % every_n_epochs == 0`` (see :func:`should_log`).

    Reads from the LightningModule: ``val_examples`` (``None`` -> nothing is written; else a
    dict with ``"x"`` and ``"x_hat"`` of shape ``(n, 1, N)``, optionally ``"theta"`` and
    ``"theta_hat"`` of shape ``(n, n_theta)``), ``synth.sr`` (Hz, integral) and, if
    present, ``theta_names``. All files are written atomically and overwritten if the
    validation epoch runs again (``val_check_interval < 1``).
    """

    def __init__(
        self, out_dir: str, plot_dir: str, n_examples: int = 4, every_n_epochs: int = 1
    ) -> None:
        super().__init__()
        for name, value in (("out_dir", out_dir), ("plot_dir", plot_dir)):
            if not isinstance(value, str) or not value:
                raise TypeError(f"{name} must be a non-empty str (a folder), got {value!r}")
        self.out_dir = Path(out_dir)
        self.plot_dir = Path(plot_dir)
        self.n_examples = check_int("n_examples", n_examples, 1)
        self.every_n_epochs = check_int("every_n_epochs", every_n_epochs, 1)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not should_log(trainer, self.every_n_epochs):
            return
        examples = getattr(pl_module, "val_examples", None)
        if examples is None:
            return
        if not isinstance(examples, Mapping) or "x" not in examples or "x_hat" not in examples:
            raise ValueError(
                "pl_module.val_examples must be None or a dict with keys 'x' and 'x_hat' "
                f"(optionally 'theta', 'theta_hat'), got {type(examples).__name__}"
            )
        sr = wav_sample_rate(pl_module.synth.sr)
        n = min(self.n_examples, examples["x"].shape[0])
        x, x_hat = examples["x"][:n], examples["x_hat"][:n]
        theta, theta_hat = examples.get("theta"), examples.get("theta_hat")
        prefix = f"epoch{trainer.current_epoch:03d}"

        for i in range(n):
            write_wav(self.out_dir / f"{prefix}_ex{i}_target.wav", x[i], sr)
            write_wav(self.out_dir / f"{prefix}_ex{i}_recon.wav", x_hat[i], sr)

        fig = spectrogram_figure(
            x,
            x_hat,
            sr,
            theta=None if theta is None else theta[:n],
            theta_hat=None if theta_hat is None else theta_hat[:n],
            theta_names=getattr(pl_module, "theta_names", None),
            names=None if examples.get("names") is None else list(examples["names"][:n]),
        )
        png = self.plot_dir / f"{prefix}_spectrograms.png"
        save_figure(fig, png)
        log_figure_to_loggers(trainer, "val_examples/spectrograms", fig, png)
