"""θ-IS path probabilities on the (temporal rate, frequential scale) plane (the paper's
Fig. 6).

Each SCRAPL path is a second-order temporal wavelet ψ2 (a modulation rate, Hz) and a
frequential filter (a scale in cycles per octave, signed by its spin; 0 for the low-pass).
The probabilities come from the run's ``theta_is/probs.pt`` (the warmup's π) or, without
it, from ``plots/path_counts.csv`` (the sampler's π at the end of training).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from scrapl.transforms.jtfs.filters import build_filterbank
from scrapl.transforms.jtfs.paths import enumerate_paths

__all__ = ["path_coordinates", "path_probabilities_figure", "read_path_probs"]


def read_path_probs(run_dir: str | Path) -> tuple[np.ndarray, str] | None:
    """``(π, source file)`` of a SCRAPL run folder; None when it has neither file."""
    run_dir = Path(run_dir)
    probs_pt = run_dir / "theta_is" / "probs.pt"
    if probs_pt.is_file():
        probs = torch.load(probs_pt, map_location="cpu", weights_only=True)
        return probs.detach().to(torch.float64).numpy().reshape(-1), "theta_is/probs.pt"
    counts = run_dir / "plots" / "path_counts.csv"
    if counts.is_file():
        with open(counts, newline="") as f:
            rows = sorted(csv.DictReader(f), key=lambda r: int(r["path_idx"]))
        return np.array([float(r["prob"]) for r in rows]), "plots/path_counts.csv"
    return None


def path_coordinates(config: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """``(rate_hz, scale_cyc_per_oct)`` of every path, in path-index order, for a run's
    resolved config (``jtfs.*``, ``synth.n_samples``, ``synth.sr``)."""
    jtfs, synth = config["jtfs"], config["synth"]
    J, J_fr = int(jtfs["J"]), int(jtfs["J_fr"])
    T = 2**J if jtfs.get("T") in (None, "global") else int(jtfs["T"])
    F = 2**J_fr if jtfs.get("F") in (None, "global") else int(jtfs["F"])
    bank = build_filterbank(int(synth["n_samples"]), J, int(jtfs["Q1"]), int(jtfs["Q2"]), J_fr,
                            int(jtfs["Q_fr"]), T, F)  # fmt: skip
    paths = enumerate_paths(bank, local_fr=jtfs.get("F") != "global")
    sr = float(synth["sr"])
    rate = np.array([bank.psi2[p.n2].xi * sr for p in paths])
    # ψfr's xi is in cycles per first-order bin; Q1 bins make an octave.
    scale = np.array([bank.psi_fr[p.n_fr].xi * int(jtfs["Q1"]) for p in paths])
    return rate, scale


def path_probabilities_figure(
    probs: np.ndarray, rate_hz: np.ndarray, scale_cpo: np.ndarray, title: str = ""
) -> Figure:
    """π as a grid: columns ψ2 by rate (slowest left), rows frequential filters by signed
    scale (spin +1 up, low-pass in the middle, spin −1 down); the uniform level is the
    colour bar's mark."""
    probs = np.asarray(probs, dtype=np.float64)
    if not (probs.shape == rate_hz.shape == scale_cpo.shape) or probs.ndim != 1:
        raise ValueError(
            f"probs, rate_hz and scale_cpo must be 1-D of one length, got {probs.shape}, "
            f"{rate_hz.shape}, {scale_cpo.shape}"
        )
    rates = np.unique(rate_hz)
    scales = np.unique(scale_cpo)
    grid = np.full((scales.size, rates.size), np.nan)
    grid[np.searchsorted(scales, scale_cpo), np.searchsorted(rates, rate_hz)] = probs
    fig = Figure(figsize=(max(6.0, 0.3 * rates.size + 2.5), max(3.5, 0.3 * scales.size + 1.5)))
    fig.subplots_adjust(left=0.14, right=0.9, bottom=0.2, top=0.9)
    ax = fig.add_subplot()
    image = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis", interpolation="nearest")
    ax.set_xticks(range(rates.size), [f"{r:.3g}" for r in rates], rotation=90, fontsize=6)
    ax.set_yticks(range(scales.size), [f"{s:+.2g}" for s in scales], fontsize=6)
    ax.set_xlabel("ψ2 rate (Hz)")
    ax.set_ylabel("ψfr scale (cycles / octave, signed by spin)")
    ax.set_title(title or f"path probabilities ({probs.size} paths)", fontsize=10)
    cbar = fig.colorbar(image, ax=ax)
    cbar.ax.axhline(1.0 / probs.size, color="w", lw=1.5)
    cbar.set_label("π (white line: uniform)", fontsize=8)
    return fig
