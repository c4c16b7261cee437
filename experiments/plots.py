"""Diagnostic figures of the sound-matching experiments (pure functions, no pyplot state).

* :func:`spectrogram_figure`: target vs. reconstruction log-magnitude STFTs on a
  log-frequency axis, one row per example named by its file (recordings) or its index, with
  the true θ and the predicted θ̂ in a table beside the row.
* :func:`path_figure`: the SCRAPL path sampler's state, i.e. the sampling probability of
  each JTFS path (with the uniform level ``1 / n_paths`` for reference) and how many
  training steps used each path.
* :func:`save_figure`: atomic save (format from the file suffix).

Figures are built with the object API (``matplotlib.figure.Figure``), never through
``pyplot``: nothing is registered globally, nothing needs closing, no display is needed,
and a figure is freed as soon as the caller drops it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from torch import Tensor

from experiments.audio_io import atomic_output
from scrapl.validation import check_int, check_positive

__all__ = [
    "log_frequency_rows",
    "path_counts_array",
    "path_figure",
    "save_figure",
    "spectrogram_figure",
]

# Magnitude floor of the STFT before the log (amplitude 1e-10 = -200 dB): keeps silence finite.
_FLOOR_DB = -200.0
# Rows of the log-frequency image per octave, and its lowest frequency (Hz; at least the
# STFT's first bin above 0).
_ROWS_PER_OCTAVE, _F_MIN_HZ = 24, 20.0
_HZ_TICKS = (20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000)
# Figure geometry (inches): width of a spectrogram, margins, gaps, the colour bar, the θ
# table beside each row, a row's height and its title's.
_AX_W_IN, _LEFT_IN, _RIGHT_IN, _TOP_IN, _BOTTOM_IN = 3.6, 0.75, 0.1, 0.1, 0.5
_COL_GAP_IN, _CBAR_GAP_IN, _CBAR_W_IN, _TABLE_GAP_IN, _TABLE_W_IN = 0.2, 0.15, 0.12, 0.75, 2.4
_AX_H_IN, _TITLE_IN, _TABLE_LINE_IN = 1.8, 0.3, 0.125


def _check_audio_batch(name: str, x: object) -> Tensor:
    """``(n, 1, N)`` or ``(n, N)`` floating tensor -> ``(n, N)`` float32 CPU."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.ndim == 3 and x.shape[1] != 1:
        raise ValueError(f"{name} must be mono, shape (n, 1, N) or (n, N), got {tuple(x.shape)}")
    if x.ndim not in (2, 3):
        raise ValueError(f"{name} must have shape (n, 1, N) or (n, N), got {tuple(x.shape)}")
    if x.shape[0] == 0 or x.shape[-1] == 0:
        raise ValueError(
            f"{name} must hold at least one example and one sample, got {tuple(x.shape)}"
        )
    return x.detach().to("cpu", torch.float32).reshape(x.shape[0], x.shape[-1])


def _check_theta(name: str, theta: object, n: int) -> Tensor:
    if not isinstance(theta, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or None, got {type(theta).__name__}")
    if theta.ndim != 2 or theta.shape[0] != n or theta.shape[1] == 0:
        raise ValueError(f"{name} must have shape ({n}, n_theta), got {tuple(theta.shape)}")
    return theta.detach().to("cpu", torch.float64)


def _check_names(name: str, values: object, n: int | None) -> list[str] | None:
    if values is None:
        return None
    if not isinstance(values, Sequence) or isinstance(values, str):
        raise TypeError(f"{name} must be a list of str, got {type(values).__name__}")
    if not all(isinstance(v, str) for v in values):
        raise TypeError(f"{name} must contain only str")
    if n is not None and len(values) != n:
        raise ValueError(f"{name} has {len(values)} entries, expected {n}")
    return list(values)


def _log_spectrogram(x: Tensor, n_fft: int, hop: int) -> np.ndarray:
    """``(n, N)`` audio -> ``(n, n_fft // 2 + 1, 1 + N // hop)`` magnitudes in dB."""
    window = torch.hann_window(n_fft, dtype=x.dtype)
    # Centred frames with zero (not reflect) padding: works for any N >= 1, even N < n_fft.
    spec = torch.stft(
        x, n_fft, hop, window=window, center=True, pad_mode="constant", return_complex=True
    )
    mag = spec.abs().clamp_min(10.0 ** (_FLOOR_DB / 20.0))
    return (20.0 * torch.log10(mag)).numpy()


def log_frequency_rows(sr: float, n_fft: int) -> np.ndarray:
    """Frequencies (Hz) of the log-frequency image's rows: ``_ROWS_PER_OCTAVE`` per octave
    from ``max(20 Hz, sr / n_fft)`` up to ``sr / 2``."""
    low = max(_F_MIN_HZ, sr / n_fft)
    n_rows = max(2, int(np.floor(_ROWS_PER_OCTAVE * np.log2(sr / 2 / low))) + 1)
    return low * 2.0 ** (np.arange(n_rows) / _ROWS_PER_OCTAVE)


def _to_log_frequency(specs: np.ndarray, freqs: np.ndarray, bin_hz: float) -> np.ndarray:
    """``(..., bins, frames)`` -> ``(..., rows, frames)``: each row linearly interpolated (in
    dB) between the two STFT bins around its frequency."""
    pos = np.clip(freqs / bin_hz, 0, specs.shape[-2] - 1)
    low = np.minimum(np.floor(pos).astype(int), specs.shape[-2] - 2)
    w = (pos - low)[:, None]
    return specs[..., low, :] * (1 - w) + specs[..., low + 1, :] * w


def _theta_table(names: list[str], theta: Tensor | None, theta_hat: Tensor | None) -> str:
    """One line per parameter: name, θ, θ̂ (monospace columns)."""
    width = max(len(n) for n in names)
    head = f"{'':<{width}}  {'θ' if theta is not None else '':>5}  "
    head += "θ̂" if theta_hat is not None else ""
    lines = [head.rstrip()]
    for k, name in enumerate(names):
        cells = [f"{float(t[k]):5.3f}" if t is not None else " " * 5 for t in (theta, theta_hat)]
        lines.append(f"{name:<{width}}  {cells[0]}  {cells[1]}".rstrip())
    return "\n".join(lines)


def spectrogram_figure(
    x: Tensor,
    x_hat: Tensor,
    sr: float,
    theta: Tensor | None = None,
    theta_hat: Tensor | None = None,
    theta_names: list[str] | None = None,
    n_fft: int | None = None,
    hop: int | None = None,
    db_range: float = 80.0,
    names: list[str] | None = None,
) -> Figure:
    """Target vs. reconstruction log-magnitude spectrograms on a log-frequency axis, one row
    per example, with the example's name and, beside the row, its θ and θ̂ as a table.

    Args:
        x: targets, ``(n, 1, N)`` or ``(n, N)`` floating tensor (any device), n >= 1.
        x_hat: reconstructions, same shape as ``x``.
        sr: sample rate in Hz (> 0), for the time (s) and frequency (Hz) axes.
        theta: optional true parameters ``(n, n_theta)`` (normalised, [0, 1]).
        theta_hat: optional predicted parameters ``(n, n_theta)``.
        theta_names: names of the ``n_theta`` parameters (default ``θ0, θ1, ...``).
        n_fft: STFT size in samples (Hann window of the same length), >= 2; default the
            power of two nearest ``sr / 16`` (a 64 ms window: 512 at 8192 Hz, 2048 at
            44.1 kHz), so that a kick's fundamental gets a few bins of its own.
        hop: STFT hop in samples, >= 1 (default ``n_fft // 4``).
        db_range: colour range in dB below the loudest bin of the figure (> 0).
        names: the examples' names (e.g. their files), one per example; default
            ``example <i>``.

    Returns:
        A ``Figure`` with an ``(n, 2)`` grid of image axes (time in s; frequency on a log
        axis, in log2(Hz) coordinates labelled in Hz, from max(20 Hz, sr / n_fft) to sr / 2),
        one shared colour bar and, with θ or θ̂, one table axes per row; ``fig.axes`` lists
        the panels row by row, then the colour bar, then the tables. All panels use the same
        dB scale so target and reconstruction levels compare directly. Non-finite samples (a
        diverged model) give blank pixels, not an error.
    """
    x = _check_audio_batch("x", x)
    x_hat = _check_audio_batch("x_hat", x_hat)
    if x.shape != x_hat.shape:
        raise ValueError(
            f"x and x_hat must have the same shape, got {tuple(x.shape)} and {tuple(x_hat.shape)}"
        )
    sr = check_positive("sr", sr)
    if n_fft is None:
        n_fft = 2 ** max(1, round(float(np.log2(sr / 16))))
    n_fft = check_int("n_fft", n_fft, 2)
    hop = check_int("hop", n_fft // 4 if hop is None else hop, 1)
    db_range = check_positive("db_range", db_range)
    n, n_samples = x.shape
    thetas = {}
    for name, t in (("theta", theta), ("theta_hat", theta_hat)):
        if t is not None:
            thetas[name] = _check_theta(name, t, n)
    n_theta = {t.shape[1] for t in thetas.values()}
    if len(n_theta) > 1:
        raise ValueError(f"theta and theta_hat must have the same n_theta, got {sorted(n_theta)}")
    param_names = _check_names("theta_names", theta_names, next(iter(n_theta), None))
    if param_names is None and n_theta:
        param_names = [f"θ{i}" for i in range(next(iter(n_theta)))]
    labels = _check_names("names", names, n) or [f"example {i}" for i in range(n)]

    bin_hz = sr / n_fft
    freqs = log_frequency_rows(sr, n_fft)
    specs = _to_log_frequency(_log_spectrogram(torch.cat([x, x_hat]), n_fft, hop), freqs, bin_hz)
    finite = specs[np.isfinite(specs)]
    # Top of the colour scale = loudest bin, but never below floor + range, so a silent
    # figure is drawn dark rather than at full brightness.
    vmax = max(float(finite.max()) if finite.size else _FLOOR_DB, _FLOOR_DB + db_range)
    vmin = vmax - db_range
    n_frames = specs.shape[-1]
    frame_s, step = hop / sr, 1.0 / _ROWS_PER_OCTAVE
    y = np.log2(freqs)
    # Pixel centres on the frame centres (t * hop / sr) and the rows' log2 frequencies.
    extent = (-0.5 * frame_s, (n_frames - 0.5) * frame_s, y[0] - step / 2, y[-1] + step / 2)
    table_lines = 0 if not thetas else len(param_names) + 1
    row_h = max(_AX_H_IN, table_lines * _TABLE_LINE_IN)

    # Fixed geometry in inches instead of a layout engine (constrained layout measured every
    # tick label twice and more than doubled the rendering time): one-line titles, the θ
    # tables in a column of their own, the colour bar between them and the spectrograms.
    height = _TOP_IN + n * (_TITLE_IN + row_h) + _BOTTOM_IN
    cbar_left = _LEFT_IN + 2 * _AX_W_IN + _COL_GAP_IN + _CBAR_GAP_IN
    table_left = cbar_left + _CBAR_W_IN + _TABLE_GAP_IN
    width = table_left + (_TABLE_W_IN if thetas else 0.0) + _RIGHT_IN
    fig = Figure(figsize=(width, height))
    axes: list = []
    tables: list[tuple[tuple[float, ...], str]] = []
    image = None
    ticks = [t for t in _HZ_TICKS if freqs[0] <= t <= freqs[-1]]
    hz = FuncFormatter(lambda v, _: f"{2**v / 1000:g}k" if 2**v >= 1000 else f"{2**v:g}")
    for i in range(n):
        top = height - _TOP_IN - i * (_TITLE_IN + row_h) - _TITLE_IN
        bottom = top - _AX_H_IN
        for j, label in enumerate(("target", "reconstruction")):
            left = _LEFT_IN + j * (_AX_W_IN + _COL_GAP_IN)
            rect = (left / width, bottom / height, _AX_W_IN / width, _AX_H_IN / height)
            ax = fig.add_axes(
                rect, sharex=axes[0] if axes else None, sharey=axes[0] if axes else None
            )
            image = ax.imshow(specs[j * n + i], origin="lower", aspect="auto",
                              interpolation="nearest", extent=extent, vmin=vmin, vmax=vmax,
                              cmap="magma")  # fmt: skip
            ax.set_title(f"{labels[i]}: {label}", fontsize=8, loc="left")
            ax.tick_params(labelsize=7, labelleft=j == 0, labelbottom=i == n - 1)
            if j == 0:
                ax.set_ylabel("frequency (Hz)", fontsize=8)
            if i == n - 1:
                ax.set_xlabel("time (s)", fontsize=8)
            axes.append(ax)
        if thetas:
            table_top = top + _TITLE_IN
            rect = (table_left / width, (table_top - row_h) / height, _TABLE_W_IN / width,
                    row_h / height)  # fmt: skip
            rows = {k: thetas[k][i] if k in thetas else None for k in ("theta", "theta_hat")}
            tables.append((rect, _theta_table(param_names, rows["theta"], rows["theta_hat"])))
    axes[0].set_xlim(0.0, n_samples / sr)
    axes[0].set_ylim(extent[2], extent[3])
    axes[0].set_yticks(np.log2(ticks))
    axes[0].yaxis.set_major_formatter(hz)
    cax = fig.add_axes((cbar_left / width, _BOTTOM_IN / height, _CBAR_W_IN / width,
                        (height - _TOP_IN - _TITLE_IN - _BOTTOM_IN) / height))  # fmt: skip
    cbar = fig.colorbar(image, cax=cax)
    cbar.set_label("magnitude (dB)", fontsize=8)
    cbar.ax.tick_params(labelsize=7)
    for rect, text in tables:
        ax = fig.add_axes(rect)
        ax.set_axis_off()
        ax.text(0.0, 1.0, text, va="top", ha="left", family="monospace", fontsize=7,
                transform=ax.transAxes)  # fmt: skip
    return fig


def path_counts_array(counts: Mapping[int, int] | Tensor, n_paths: int) -> np.ndarray:
    """Visit counts as an ``(n_paths,)`` int64 array (paths absent from a dict count 0).

    ``counts`` is either a dict ``path index -> number of steps`` (indices in
    ``[0, n_paths)``, counts >= 0) or an ``(n_paths,)`` tensor of non-negative integers.
    """
    n_paths = check_int("n_paths", n_paths, 1)
    if isinstance(counts, Tensor):
        if counts.shape != (n_paths,):
            raise ValueError(
                f"counts must have shape ({n_paths},) (one per path), got {tuple(counts.shape)}"
            )
        values = counts.detach().to("cpu", torch.float64)
        if not bool(torch.isfinite(values).all()) or bool((values != values.round()).any()):
            raise ValueError("counts must hold whole numbers")
        out = values.numpy().astype(np.int64)
    elif isinstance(counts, Mapping):
        out = np.zeros(n_paths, dtype=np.int64)
        for key, value in counts.items():
            idx = check_int("counts key (path index)", key, 0)
            if idx >= n_paths:
                raise ValueError(f"counts has path index {idx} but n_paths is {n_paths}")
            out[idx] = check_int(f"counts[{idx}]", value, 0)
    else:
        raise TypeError(f"counts must be a dict[int, int] or a Tensor, got {type(counts).__name__}")
    if (out < 0).any():
        raise ValueError("counts must be >= 0")
    return out


def path_figure(probs: Tensor, counts: Mapping[int, int] | Tensor, n_paths: int) -> Figure:
    """SCRAPL path-sampler state: sampling probability and visit count per path index.

    Args:
        probs: ``(n_paths,)`` sampling probabilities (non-negative, finite; normally summing
            to 1, which is not enforced so that a drifting sampler can still be inspected).
        counts: visit counts, see :func:`path_counts_array`.
        n_paths: number of JTFS paths (>= 1).

    Returns:
        A ``Figure`` with two stacked panels sharing the path-index axis: the probabilities
        with a dashed line at the uniform level ``1 / n_paths``, and the visit counts.
    """
    n_paths = check_int("n_paths", n_paths, 1)
    if not isinstance(probs, Tensor):
        raise TypeError(f"probs must be a torch.Tensor, got {type(probs).__name__}")
    if probs.shape != (n_paths,):
        raise ValueError(f"probs must have shape ({n_paths},), got {tuple(probs.shape)}")
    p = probs.detach().to("cpu", torch.float64).numpy()
    if not np.isfinite(p).all() or (p < 0).any():
        raise ValueError("probs must be finite and >= 0")
    c = path_counts_array(counts, n_paths)

    # Step outlines rather than n_paths bar patches: constant cost for thousands of paths.
    edges = np.arange(n_paths + 1) - 0.5
    fig = Figure(figsize=(10.0, 5.5))
    # Fixed margins rather than a layout engine (several times faster to render).
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.09, top=0.94, hspace=0.3)
    ax_p, ax_c = fig.subplots(2, 1, sharex=True)
    ax_p.stairs(p, edges, fill=True, alpha=0.8, label="sampling probability")
    ax_p.axhline(1.0 / n_paths, color="C3", linestyle="--", label=f"uniform 1/{n_paths}")
    ax_p.set_ylabel("probability")
    ax_p.set_ylim(bottom=0.0)
    ax_p.set_title(
        f"path sampling probabilities ({n_paths} paths; min {p.min():.3g}, max {p.max():.3g}, "
        f"sum {p.sum():.6g})",
        fontsize=9,
    )
    ax_p.legend(fontsize=8, loc="upper right")
    ax_c.stairs(c, edges, fill=True, color="C2", alpha=0.8)
    ax_c.set_ylabel("steps")
    ax_c.set_xlabel("path index")
    ax_c.set_xlim(edges[0], edges[-1])
    ax_c.set_ylim(bottom=0.0)
    unvisited = int((c == 0).sum())
    ax_c.set_title(
        f"path visit counts (total {int(c.sum())} steps; {unvisited} of {n_paths} paths unvisited)",
        fontsize=9,
    )
    return fig


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 100) -> None:
    """Save ``fig`` atomically to ``path``; the format comes from the suffix (e.g. ``.png``).

    The folder is created if missing. Raises ValueError for a missing or unsupported suffix.
    """
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib.figure.Figure, got {type(fig).__name__}")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    dpi = check_int("dpi", dpi, 1)
    fmt = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    supported = fig.canvas.get_supported_filetypes()
    if fmt not in supported:
        raise ValueError(
            f"path must end in a figure format suffix ({', '.join(sorted(supported))}), "
            f"got {os.fspath(path)!r}"
        )
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi)
