"""Diagnostic figures of the sound-matching experiments (pure functions, no pyplot state).

* :func:`spectrogram_figure`: target vs. reconstruction log-magnitude STFTs, one row per
  example, optionally titled with the true θ and the predicted θ̂.
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
from torch import Tensor

from experiments.audio_io import atomic_output
from scrapl.validation import check_int, check_positive

__all__ = ["path_counts_array", "path_figure", "save_figure", "spectrogram_figure"]

# Magnitude floor of the STFT before the log (amplitude 1e-10 = -200 dB): keeps silence finite.
_FLOOR_DB = -200.0
# θ values printed per title line, so that 14-parameter titles stay readable.
_THETA_PER_LINE = 4
# Spectrogram figure geometry (inches): width, margins, axes height, title line height.
_FIG_W_IN, _LEFT_IN, _RIGHT_IN, _TOP_IN, _BOTTOM_IN = 10.0, 0.75, 0.75, 0.1, 0.5
_COL_GAP_IN, _CBAR_GAP_IN, _CBAR_W_IN = 0.25, 0.2, 0.15
_AX_H_IN, _TITLE_LINE_IN = 1.8, 0.15


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


def _log_spectrogram(x: Tensor, n_fft: int, hop: int) -> np.ndarray:
    """``(n, N)`` audio -> ``(n, n_fft // 2 + 1, 1 + N // hop)`` magnitudes in dB."""
    window = torch.hann_window(n_fft, dtype=x.dtype)
    # Centred frames with zero (not reflect) padding: works for any N >= 1, even N < n_fft.
    spec = torch.stft(
        x, n_fft, hop, window=window, center=True, pad_mode="constant", return_complex=True
    )
    mag = spec.abs().clamp_min(10.0 ** (_FLOOR_DB / 20.0))
    return (20.0 * torch.log10(mag)).numpy()


def _theta_text(symbol: str, values: Tensor, names: Sequence[str]) -> str:
    items = [f"{name}={float(v):.3f}" for name, v in zip(names, values.tolist(), strict=True)]
    lines = [
        ", ".join(items[i : i + _THETA_PER_LINE]) for i in range(0, len(items), _THETA_PER_LINE)
    ]
    return f"{symbol}: " + ",\n".join(lines)


def spectrogram_figure(
    x: Tensor,
    x_hat: Tensor,
    sr: float,
    theta: Tensor | None = None,
    theta_hat: Tensor | None = None,
    theta_names: list[str] | None = None,
    n_fft: int = 512,
    hop: int = 128,
    db_range: float = 80.0,
) -> Figure:
    """Target vs. reconstruction log-magnitude spectrograms, one row per example.

    Args:
        x: targets, ``(n, 1, N)`` or ``(n, N)`` floating tensor (any device), n >= 1.
        x_hat: reconstructions, same shape as ``x``.
        sr: sample rate in Hz (> 0), for the time (s) and frequency (Hz) axes.
        theta: optional true parameters ``(n, n_theta)`` (normalised, [0, 1]); shown in the
            titles of the target column.
        theta_hat: optional predicted parameters ``(n, n_theta)``; shown in the titles of the
            reconstruction column.
        theta_names: names of the ``n_theta`` parameters (default ``θ0, θ1, ...``).
        n_fft: STFT size in samples (Hann window of the same length), >= 2.
        hop: STFT hop in samples, >= 1.
        db_range: colour range in dB below the loudest bin of the figure (> 0).

    Returns:
        A ``Figure`` with an ``(n, 2)`` grid of axes (time in s, frequency 0 .. sr/2 in Hz)
        and one shared colour bar; ``fig.axes`` lists the panels row by row, then the colour
        bar. All panels use the same dB scale so target and reconstruction levels compare
        directly. Non-finite samples (a diverged model) give blank pixels, not an error.
    """
    x = _check_audio_batch("x", x)
    x_hat = _check_audio_batch("x_hat", x_hat)
    if x.shape != x_hat.shape:
        raise ValueError(
            f"x and x_hat must have the same shape, got {tuple(x.shape)} and {tuple(x_hat.shape)}"
        )
    sr = check_positive("sr", sr)
    n_fft = check_int("n_fft", n_fft, 2)
    hop = check_int("hop", hop, 1)
    db_range = check_positive("db_range", db_range)
    n, n_samples = x.shape
    thetas = {}
    for name, t in (("theta", theta), ("theta_hat", theta_hat)):
        if t is not None:
            thetas[name] = _check_theta(name, t, n)
    n_theta = {t.shape[1] for t in thetas.values()}
    if len(n_theta) > 1:
        raise ValueError(f"theta and theta_hat must have the same n_theta, got {sorted(n_theta)}")
    if theta_names is not None:
        if not isinstance(theta_names, Sequence) or isinstance(theta_names, str):
            raise TypeError(f"theta_names must be a list of str, got {type(theta_names).__name__}")
        if not all(isinstance(s, str) for s in theta_names):
            raise TypeError("theta_names must contain only str")
        if n_theta and len(theta_names) != next(iter(n_theta)):
            raise ValueError(
                f"theta_names has {len(theta_names)} names but theta has {next(iter(n_theta))} "
                "columns"
            )
    names = list(theta_names) if theta_names is not None else None
    if names is None and n_theta:
        names = [f"θ{i}" for i in range(next(iter(n_theta)))]

    specs = _log_spectrogram(torch.cat([x, x_hat]), n_fft, hop)
    finite = specs[np.isfinite(specs)]
    # Top of the colour scale = loudest bin, but never below floor + range, so a silent
    # figure is drawn dark rather than at full brightness.
    vmax = max(float(finite.max()) if finite.size else _FLOOR_DB, _FLOOR_DB + db_range)
    vmin = vmax - db_range
    n_bins, n_frames = specs.shape[1:]
    bin_hz, frame_s = sr / n_fft, hop / sr
    # Pixel centres on the frame centres (t * hop / sr) and bin frequencies (k * sr / n_fft).
    extent = (-0.5 * frame_s, (n_frames - 0.5) * frame_s, -0.5 * bin_hz, (n_bins - 0.5) * bin_hz)

    titles = []
    for i in range(n):
        row = []
        for label, key, symbol in (("target", "theta", "θ"), ("reconstruction", "theta_hat", "θ̂")):
            title = f"example {i}: {label}"
            if key in thetas:
                title += "\n" + _theta_text(symbol, thetas[key][i], names)
            row.append(title)
        titles.append(row)

    # Fixed geometry in inches instead of a layout engine: constrained layout measured every
    # tick label twice and more than doubled the rendering time; the grid here is simple enough to
    # place by hand. Each row reserves room for its (possibly multi-line) titles.
    title_h = [max(t.count("\n") + 1 for t in row) * _TITLE_LINE_IN + 0.12 for row in titles]
    height = _TOP_IN + sum(title_h) + n * _AX_H_IN + _BOTTOM_IN
    ax_w = (_FIG_W_IN - _LEFT_IN - _COL_GAP_IN - _CBAR_GAP_IN - _CBAR_W_IN - _RIGHT_IN) / 2
    fig = Figure(figsize=(_FIG_W_IN, height))
    axes: list[list] = []
    image = None
    top = height - _TOP_IN
    for i in range(n):
        top -= title_h[i]
        bottom = top - _AX_H_IN
        row_axes = []
        for j in range(2):
            left = _LEFT_IN + j * (ax_w + _COL_GAP_IN)
            rect = (left / _FIG_W_IN, bottom / height, ax_w / _FIG_W_IN, _AX_H_IN / height)
            share = axes[0][0] if axes else (row_axes[0] if row_axes else None)
            ax = fig.add_axes(rect, sharex=share, sharey=share)
            image = ax.imshow(
                specs[j * n + i],
                origin="lower",
                aspect="auto",
                interpolation="nearest",
                extent=extent,
                vmin=vmin,
                vmax=vmax,
                cmap="magma",
            )
            ax.set_title(titles[i][j], fontsize=8)
            ax.tick_params(labelsize=7, labelleft=j == 0, labelbottom=i == n - 1)
            if j == 0:
                ax.set_ylabel("frequency (Hz)", fontsize=8)
            if i == n - 1:
                ax.set_xlabel("time (s)", fontsize=8)
            row_axes.append(ax)
        axes.append(row_axes)
        top = bottom
    axes[0][0].set_xlim(0.0, n_samples / sr)
    axes[0][0].set_ylim(0.0, sr / 2.0)
    cbar_left = _LEFT_IN + 2 * ax_w + _COL_GAP_IN + _CBAR_GAP_IN
    first_top = height - _TOP_IN - title_h[0]
    cax = fig.add_axes(
        (
            cbar_left / _FIG_W_IN,
            _BOTTOM_IN / height,
            _CBAR_W_IN / _FIG_W_IN,
            (first_top - _BOTTOM_IN) / height,
        )
    )
    cbar = fig.colorbar(image, cax=cax)
    cbar.set_label("magnitude (dB)", fontsize=8)
    cbar.ax.tick_params(labelsize=7)
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
