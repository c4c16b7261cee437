"""Drum one-shots read from a folder: discovery, checks, mono 44.1 kHz, fixed length.

The TR-808 experiment of Mitcheltree et al. (ICLR 2026, SCRAPL) matches recorded one-shots
(bass drum, snare, toms, hi-hats) read from a folder plus a file list. Every ``.wav``,
``.flac``, ``.aif``/``.aiff`` and ``.ogg`` file under ``root`` (subfolders included), or the
files a list names, is read with ``soundfile``, averaged over its channels, resampled to
``sr`` with ``soxr`` (high quality) when its rate differs, then truncated or zero-padded to
``n_samples``. Files that cannot serve raise :class:`BadAudioFile`, naming the file: not
readable as audio, no samples, non-finite samples, shorter than ``min_samples`` (after
resampling), or silent (peak below ``silence_threshold`` in the kept samples). With
``skip_bad=True`` they are left out instead and counted in one logged warning; without it,
every unusable file is named in one :class:`BadAudioFiles` error. Nothing is
ever written into ``root``.

The drum type comes from the file name where it says so (:func:`drum_type_from_name`).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch

from experiments.data.one_shot_dataset import OneShotCollection
from scrapl.validation import check_bool, check_float, check_int

__all__ = [
    "AUDIO_EXTENSIONS",
    "BadAudioFile",
    "OneShotFolder",
    "drum_type_from_name",
    "find_audio_files",
    "load_one_shot",
]

logger = logging.getLogger(__name__)

AUDIO_EXTENSIONS = (".wav", ".flac", ".aif", ".aiff", ".ogg")

# (drum type, whole words of the name that say it, substrings that say it). Short
# abbreviations only count as whole words ("tom" is in "bottom", "hat" in "what").
_DRUM_WORDS: tuple[tuple[str, frozenset[str], tuple[str, ...]], ...] = (
    ("kick", frozenset({"kick", "kicks", "kik", "bd", "kd", "bass", "bassdrum"}), ("kick",)),
    ("snare", frozenset({"snare", "snares", "sd", "sn", "snr"}), ("snare",)),
    ("tom", frozenset({"tom", "toms", "lt", "mt", "ht"}), ()),
    ("hat", frozenset({"hat", "hats", "hh", "hihat", "oh", "ch", "ph", "chh", "ohh"}), ("hihat",)),
    ("cymbal", frozenset({"cymbal", "cy", "cym", "crash", "ride"}), ("cymbal",)),
    ("clap", frozenset({"clap", "claps", "cp"}), ("clap",)),
    (
        "percussion",
        frozenset({"cb", "rs", "rim", "cl", "ma", "lc", "mc", "hc", "tamb", "conga", "clave"}),
        ("cowbell", "conga", "clave", "maraca", "shaker", "rimshot", "tambourine", "bongo"),
    ),
)


class BadAudioFile(ValueError):
    """A file that cannot serve as a one-shot; the message names the file and the reason."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class BadAudioFiles(BadAudioFile):
    """Every unusable file of a folder at once (``errors``), with the way to leave them out;
    ``path`` and ``reason`` are the first one's."""

    def __init__(self, errors: list[BadAudioFile], n_files: int, root: Path) -> None:
        ValueError.__init__(
            self,
            f"{len(errors)} of {n_files} files under {root} cannot serve as one-shots:\n"
            + "".join(f"  {e.path}: {e.reason}\n" for e in errors)
            + "Leave them out with data.skip_bad=true (OneShotFolder(..., skip_bad=True)).",
        )
        self.errors = errors
        self.path = errors[0].path
        self.reason = errors[0].reason


def _words(name: str) -> list[str]:
    # "808_Hat_Closed" -> hat, closed; "HiHat" -> hi, hat; "BD0010" -> bd; "kick2" -> kick
    return [w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", name)]


def drum_type_from_name(name: str | os.PathLike) -> str:
    """``"kick"``, ``"snare"``, ``"tom"``, ``"hat"``, ``"cymbal"``, ``"clap"``,
    ``"percussion"`` or ``"unknown"``, from the file name, else from its folders (nearest
    first): e.g. ``808_Kick_Long.flac`` -> kick, ``SD7550.wav`` -> snare,
    ``Toms/LT10.wav`` -> tom, ``HiHat closed.wav`` -> hat."""
    path = Path(name)
    for part in (path.stem, *reversed(path.parent.parts)):
        words = _words(part)
        joined = "".join(words)
        for drum, whole, pieces in _DRUM_WORDS:
            if whole.intersection(words) or any(p in joined for p in pieces):
                return drum
    return "unknown"


def _read_list(file_list: str | os.PathLike | Sequence[str]) -> list[str]:
    if isinstance(file_list, (str, os.PathLike)):
        path = Path(file_list)
        if not path.is_file():
            raise FileNotFoundError(f"file_list not found: {path}")
        lines = path.read_text().splitlines()
    else:
        lines = list(file_list)
    entries = [line.strip() for line in lines]
    return [e for e in entries if e and not e.startswith("#")]


def find_audio_files(
    root: str | os.PathLike, file_list: str | os.PathLike | Sequence[str] | None = None
) -> list[Path]:
    """The sound files of a collection, sorted by name.

    Args:
        root: the folder (searched recursively when there is no ``file_list``).
            Found files are returned relative to it; listed ones as listed.
        file_list: a text file with one path per line (relative to ``root`` or absolute;
            blank lines and ``#`` comments ignored), or a sequence of such paths.

    Raises:
        FileNotFoundError / NotADirectoryError: ``root`` or the list is missing.
        ValueError: no audio file found, or a listed entry is duplicated or has an extension
            other than :data:`AUDIO_EXTENSIONS`.
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"root folder not found: {root}")
    if not root.is_dir():
        raise NotADirectoryError(f"root must be a folder, got the file {root}")
    if file_list is None:
        files = [
            p.relative_to(root)
            for p in root.rglob("*")
            if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file()
        ]
    else:
        files = []
        for entry in _read_list(file_list):
            path = Path(entry)
            if path.suffix.lower() not in AUDIO_EXTENSIONS:
                raise ValueError(
                    f"file_list entry {entry!r} is not one of the extensions {AUDIO_EXTENSIONS}"
                )
            files.append(path)  # root / an absolute path is that path
        if len(set(files)) != len(files):
            dupes = sorted({str(f) for f in files if files.count(f) > 1})
            raise ValueError(f"file_list names these files more than once: {dupes}")
    if not files:
        where = f"listed in {file_list}" if file_list is not None else f"under {root}"
        raise ValueError(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) {where}")
    return sorted(files, key=lambda p: p.as_posix())


def load_one_shot(
    path: str | os.PathLike,
    sr: int = 44100,
    n_samples: int = 44100,
    min_samples: int = 2048,
    silence_threshold: float = 1e-4,
) -> np.ndarray:
    """One file as ``(n_samples,)`` float32: mono (channel mean), at ``sr``, cut or padded.

    Raises:
        BadAudioFile: unreadable, empty, non-finite, shorter than ``min_samples`` at ``sr``,
            or silent (peak ``< silence_threshold`` in the kept samples).
    """
    path = Path(path)
    if not path.is_file():
        raise BadAudioFile(path, "file not found")
    try:
        data, file_sr = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise BadAudioFile(path, f"cannot be read as audio ({err})") from err
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise BadAudioFile(path, "has no samples")
    mono = data.mean(axis=1)
    if not np.isfinite(mono).all():
        raise BadAudioFile(path, "contains NaN or infinite samples")
    if file_sr != sr:
        mono = soxr.resample(mono, file_sr, sr, quality="HQ").astype(np.float32)
    if mono.shape[0] < min_samples:
        raise BadAudioFile(
            path, f"is too short: {mono.shape[0]} samples at {sr} Hz (< min_samples={min_samples})"
        )
    out = np.zeros(n_samples, dtype=np.float32)
    kept = mono[:n_samples]
    out[: kept.shape[0]] = kept
    peak = float(np.abs(out).max())
    if peak < silence_threshold:
        raise BadAudioFile(
            path,
            f"is silent: peak {peak:.3g} in its first {n_samples} samples is below "
            f"silence_threshold={silence_threshold:g}",
        )
    return out


class OneShotFolder(OneShotCollection):
    """Every usable one-shot of a folder (or of a file list), loaded once, and its split.

    Args:
        root: the folder (subfolders included).
        file_list: optional text file (or sequence) of paths relative to ``root``.
        split: three sizes (ints) or fractions (floats) of train / val / test, taken from the
            sorted names shuffled with ``split_seed`` (the paper: 425, 128, 128 of 681).
        split_seed: seed of that shuffle.
        sr: sample rate in Hz of the loaded audio.
        n_samples: length of every sound after truncation / zero padding.
        skip_bad: leave out unusable files (counted in a logged warning) instead of raising.
        min_samples: shortest usable file, in samples at ``sr``.
        silence_threshold: files whose peak is below this are silent.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        file_list: str | os.PathLike | Sequence[str] | None = None,
        split: Sequence[float | int] = (425, 128, 128),
        split_seed: int = 0,
        sr: int = 44100,
        n_samples: int = 44100,
        skip_bad: bool = False,
        min_samples: int = 2048,
        silence_threshold: float = 1e-4,
    ) -> None:
        self.root = Path(root)
        self.sr = check_int("sr", sr, 1)
        self.n_samples = check_int("n_samples", n_samples, 1)
        skip_bad = check_bool("skip_bad", skip_bad)
        min_samples = check_int("min_samples", min_samples, 1)
        silence_threshold = check_float("silence_threshold", silence_threshold, 0.0, 1.0)
        audio, names, bad = [], [], []
        for rel in find_audio_files(self.root, file_list):
            try:
                audio.append(
                    load_one_shot(self.root / rel, sr, n_samples, min_samples, silence_threshold)
                )
            except BadAudioFile as err:
                bad.append(err)
                continue
            names.append(rel.as_posix())
        if bad and not skip_bad:  # every bad file at once, not the first
            raise BadAudioFiles(bad, len(bad) + len(names), self.root)
        if bad:
            logger.warning(
                "skipped %d of %d files under %s: %s",
                len(bad),
                len(bad) + len(names),
                self.root,
                "; ".join(f"{e.path} ({e.reason})" for e in bad),
            )
        if not names:
            raise ValueError(f"no usable audio files under {self.root} ({len(bad)} skipped)")
        self.skipped = [e.path for e in bad]
        self.audio = torch.from_numpy(np.stack(audio))
        self.names = names
        self.drum_types = [drum_type_from_name(name) for name in names]
        self._set_split(split, split_seed)

    def __repr__(self) -> str:
        sizes = {k: len(v) for k, v in self.splits.items()}
        return f"OneShotFolder(root={str(self.root)!r}, n={len(self)}, splits={sizes})"
