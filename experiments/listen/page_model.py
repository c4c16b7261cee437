"""What the page shows, once its files are written: the input of :mod:`page_html`.

Paths are relative to the page's folder (``index.html`` links them as they are).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from experiments.listen.audio_files import PageAudio

__all__ = ["PageCell", "PageColumn", "PageRow", "PageTable", "PageRun"]


@dataclass(frozen=True)
class PageCell:
    spectrogram: str
    audio: PageAudio
    theta: tuple[float, ...] | None  # θ for the target, θ̂ for a reconstruction
    error: float | None = None  # None for the target
    best: bool = False  # the lowest error of the row


@dataclass(frozen=True)
class PageColumn:
    loss: str
    seed: int
    how: str  # how the seed was chosen
    metric: str
    test_error: float | None
    checkpoint: str
    links: tuple[tuple[str, str], ...]  # (text, relative path)


@dataclass(frozen=True)
class PageRow:
    label: str
    target: PageCell
    cells: tuple[PageCell, ...]


@dataclass(frozen=True)
class PageTable:
    slug: str
    title: str
    sr: int
    n_test: int
    theta_names: tuple[str, ...]
    error_name: str
    columns: tuple[PageColumn, ...]
    rows: tuple[PageRow, ...]
    shown: tuple[int, ...]  # the rows shown before any redraw


@dataclass(frozen=True)
class PageRun:
    """A run the page was built from (listed at its end)."""

    experiment: str
    loss: str
    seed: int
    folder: str
    used: bool


@dataclass
class Page:
    title: str
    notes: list[str]
    tables: list[PageTable]
    runs: list[PageRun] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (folder, reason)
    audio_format: str = "wav"
