"""Figures written byte-identically: the same figure gives the same PNG and SVG files.

Matplotlib stamps SVG files with the date and draws random element ids, and PNG files with
its version: both are pinned here (``metadata`` without dates or software, a fixed
``svg.hashsalt``), so that re-rendering the figures of unchanged runs changes no file.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib as mpl
from matplotlib.figure import Figure

from experiments.audio_io import atomic_output

__all__ = ["FORMATS", "save_deterministic"]

FORMATS = ("png", "svg")
METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
}


def save_deterministic(
    fig: Figure, stem: str | os.PathLike, formats: tuple[str, ...] = FORMATS, dpi: int = 150
) -> list[Path]:
    """Save ``fig`` as ``<stem>.<format>`` for each format (png, svg), atomically."""
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib.figure.Figure, got {type(fig).__name__}")
    bad = [f for f in formats if f not in METADATA]
    if bad or not formats:
        raise ValueError(f"formats must be a non-empty subset of {sorted(METADATA)}, got {formats}")
    written = []
    with mpl.rc_context({"svg.hashsalt": "scrapl", "svg.fonttype": "path"}):
        for fmt in formats:
            path = Path(f"{os.fspath(stem)}.{fmt}")
            with atomic_output(path) as tmp:
                fig.savefig(tmp, format=fmt, dpi=dpi, metadata=METADATA[fmt])
            written.append(path)
    return written
