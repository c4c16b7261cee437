"""The listening page built from run folders: a static folder that works from ``file://``.

Layout of ``out``::

    index.html, listen.js, listen.css
    listen-site.json                      what it was built from (and the mark that lets a
                                          later build replace the folder)
    t<i>/audio/r<row>_target.<ext>, r<row>_c<col>.<ext>   peak-normalised sounds
    t<i>/spec/r<row>_target.png, r<row>_c<col>.png        spectrograms, one scale per row
    t<i>/runs/<loss>_seed<seed>/config.yaml, metrics.csv, summary.json   copies (links)

The folder is built beside ``out`` and renamed into place (:func:`replace_folder`); an
existing ``out`` is replaced only if a previous build wrote it. Run folders are only read.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from experiments.atomic_folder import replace_folder
from experiments.listen.audio_files import AUDIO_FORMATS, write_page_audio
from experiments.listen.page_html import page_html
from experiments.listen.page_model import (
    Page,
    PageCell,
    PageColumn,
    PageRow,
    PageRun,
    PageTable,
)
from experiments.listen.runs import ListenError, collect_listen_runs
from experiments.listen.spectrogram import log_frequency_db, write_spectrogram_png
from experiments.listen.tables import ListenTable, build_tables

__all__ = ["MARKER", "SiteReport", "build_site", "default_rows"]

MARKER = "listen-site.json"
ASSETS = ("listen.js", "listen.css")
RUN_FILES = ("config.yaml", "metrics.csv", "summary.json")


@dataclass(frozen=True)
class SiteReport:
    out: Path
    n_tables: int
    n_sounds: int  # audio files written
    n_runs: int  # runs read
    skipped: tuple[tuple[str, str], ...]
    seconds: float


def default_rows(n_rows: int, n_shown: int) -> tuple[int, ...]:
    """The rows shown before any redraw: ``n_shown`` spread evenly over the kept ones."""
    if n_rows <= n_shown:
        return tuple(range(n_rows))
    return tuple(sorted({int(round(v)) for v in np.linspace(0, n_rows - 1, n_shown)}))


def _check_out(out: Path, roots: Sequence[Path]) -> None:
    if out.exists() and not out.is_dir():
        raise ListenError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise ListenError(
            f"--out {out}: a folder that a listening page did not write (no {MARKER}) and is "
            "not empty: choose a new or empty folder"
        )
    resolved = out.resolve()
    for root in roots:
        root = root.resolve()
        if resolved == root or root in resolved.parents or resolved in root.parents:
            raise ListenError(
                f"--out {out}: inside or around the run folders {root}; the page never writes "
                "into run folders: choose a folder elsewhere"
            )


def _read_mono(path: Path) -> np.ndarray:
    data, _ = sf.read(path, dtype="float32", always_2d=True)
    return data.mean(axis=1)


def _render_table(table: ListenTable, index: int, tmp: Path, fmt: str, n_shown: int):
    slug = f"t{index}"
    for sub in ("audio", "spec", "runs"):
        (tmp / slug / sub).mkdir(parents=True)
    columns = []
    for col in table.columns:
        choice = col.choice
        run = choice.run.run
        folder = f"{slug}/runs/{col.label}_seed{choice.run.seed}"
        (tmp / folder).mkdir(parents=True)
        links = []
        for name in RUN_FILES:
            if (run.path / name).is_file():
                shutil.copyfile(run.path / name, tmp / folder / name)
                links.append((name.split(".")[0], f"{folder}/{name}"))
        checkpoint = Path(choice.run.audio.checkpoint).name or "?"
        columns.append(
            PageColumn(
                col.label, choice.run.seed, choice.how, choice.metric, choice.error, checkpoint,
                tuple(links),
            )
        )  # fmt: skip
    rows = []
    n_sounds = 0
    for r, row in enumerate(table.rows):
        sounds = [_read_mono(row.target.target)] + [_read_mono(cell.recon) for cell in row.cells]
        dbs = [log_frequency_db(x, table.sr) for x in sounds]
        top = max(float(d.max()) for d in dbs)
        stems = [f"r{r:02d}_target"] + [f"r{r:02d}_c{c}" for c in range(len(row.cells))]
        written = []
        for stem, x, db in zip(stems, sounds, dbs, strict=True):
            write_spectrogram_png(tmp / slug / "spec" / f"{stem}.png", db, top)
            audio = write_page_audio(tmp / slug / "audio", stem, x, table.sr, fmt)
            written.append((f"{slug}/spec/{stem}.png", audio))
        n_sounds += len(written)
        errors = [cell.errors.get(table.error_name) for cell in row.cells]
        known = [e for e in errors if e is not None]
        lowest = min(known) if known else None
        target_spec, target_audio = written[0]
        target = PageCell(target_spec, _in(slug, target_audio), row.target.theta)
        cells = tuple(
            PageCell(spec, _in(slug, audio), cell.theta_hat, err, err is not None and err == lowest)
            for (spec, audio), cell, err in zip(written[1:], row.cells, errors, strict=True)
        )
        rows.append(PageRow(row.label, target, cells))
    page_table = PageTable(
        slug=slug,
        title=table.title,
        sr=table.sr,
        n_test=table.n_test,
        theta_names=table.theta_names,
        error_name=table.error_name,
        columns=tuple(columns),
        rows=tuple(rows),
        shown=default_rows(len(rows), n_shown),
    )
    return page_table, n_sounds


def _in(slug: str, audio):
    """The audio record with its name relative to the page."""
    return type(audio)(f"{slug}/audio/{audio.name}", audio.peak)


def build_site(
    roots: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    seed: int | None = None,
    losses: Sequence[str] | None = None,
    rows: int = 4,
    audio_format: str = "wav",
    title: str = "Listen: sound matching",
    notes: Sequence[str] = (),
) -> SiteReport:
    """Build the page (see the module docstring) from the runs under ``roots``.

    Args:
        roots: run folders, or folders of runs (searched recursively).
        out: the page's folder: new, empty, or written by an earlier build.
        seed: the seed played for every loss (None: each loss's median-error seed).
        losses: the losses shown, in this order (None: all, by name).
        rows: test sounds shown per table at a time (>= 1).
        audio_format: one of :data:`AUDIO_FORMATS`.
        title, notes: the page's heading and paragraphs under it (plain text).

    Raises:
        ListenError: bad input, naming the folder (see :mod:`experiments.listen.runs` and
            :mod:`experiments.listen.tables`); TypeError / ValueError for bad arguments.
    """
    started = time.perf_counter()
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise ValueError(f"rows must be an int >= 1, got {rows!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValueError(f"seed must be None or an int >= 0, got {seed!r}")
    if audio_format not in AUDIO_FORMATS:
        raise ValueError(
            f"audio_format must be one of {sorted(AUDIO_FORMATS)}, got {audio_format!r}"
        )
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be a path, got {type(out).__name__}")
    if isinstance(roots, (str, os.PathLike)):
        roots = [roots]
    roots = [Path(r) for r in roots]
    out = Path(out)
    _check_out(out, roots)
    found = collect_listen_runs(roots)
    tables = build_tables(found, seed=seed, losses=losses)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp."))
    try:
        page_tables, n_sounds = [], 0
        for i, table in enumerate(tables):
            page_table, n = _render_table(table, i, tmp, audio_format, rows)
            page_tables.append(page_table)
            n_sounds += n
        used = {col.choice.run.run.path for t in tables for col in t.columns}
        page_runs = [
            PageRun(r.run.experiment, r.run.loss, r.seed, str(r.run.path), r.run.path in used)
            for group_runs in found.runs
            for r in group_runs
        ]
        skipped = [(str(s.path), s.reason) for s in found.skipped]
        page = Page(title, list(notes), page_tables, page_runs, skipped, audio_format)
        (tmp / "index.html").write_text(page_html(page), encoding="utf-8")
        for asset in ASSETS:
            shutil.copyfile(Path(__file__).with_name(asset), tmp / asset)
        record = {
            "roots": [str(r) for r in roots],
            "seed": seed,
            "losses": None if losses is None else list(losses),
            "rows": rows,
            "audio_format": audio_format,
            "runs": [{"folder": r.folder, "shown": r.used} for r in page_runs],
        }
        (tmp / MARKER).write_text(json.dumps(record, indent=1) + "\n")
        os.chmod(tmp, 0o755)
        replace_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return SiteReport(
        out=out,
        n_tables=len(page_tables),
        n_sounds=n_sounds,
        n_runs=len(page_runs),
        skipped=tuple(skipped),
        seconds=time.perf_counter() - started,
    )
