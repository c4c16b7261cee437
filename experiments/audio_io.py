"""WAV input/output of the sound-matching experiments, plus the atomic-write helper.

Audio is written as 32-bit float WAV (``subtype="FLOAT"``) exactly as given: no peak
normalisation and no clipping, so a reconstruction that overshoots [-1, 1] keeps its true
level on disk (a 16-bit PCM file would silently clip or wrap it). Reading returns float32
samples whatever the file's subtype (PCM files are scaled to [-1, 1) by libsndfile).

Every file written here (and by :mod:`experiments.plots` and the callbacks) goes through
:func:`atomic_output`: the data are written to a temporary file in the destination folder,
flushed to disk, then moved over the destination with ``os.replace``. A crash mid-write
leaves either the old file or the new one, never a truncated one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch import Tensor

from scrapl.validation import check_int

__all__ = ["atomic_output", "read_wav", "write_wav"]

PathLike = str | os.PathLike

# Permissions of finished files: mkstemp creates 0600 files, which other users of a shared
# results folder could not read.
_FILE_MODE = 0o644


def _as_path(name: str, path: object) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    if path.name in ("", ".", ".."):
        raise ValueError(f"{name} must name a file, got {str(path)!r}")
    return path


@contextlib.contextmanager
def atomic_output(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path to write to; on success it atomically replaces ``path``.

    The temporary file lies in ``path``'s folder (created if missing) so that ``os.replace``
    is a rename within one file system, and it keeps ``path``'s suffix so that writers that
    infer a format from the name still work. If the ``with`` body raises, the temporary file
    is removed and ``path`` is left untouched.

    Example::

        with atomic_output("run/metrics.csv") as tmp:
            tmp.write_text("a,b\\n1,2\\n")
    """
    path = _as_path("path", path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}"
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # fsync before the rename: otherwise a power loss can leave the new name pointing
        # at a file whose data never reached the disk.
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_wav(path: PathLike, audio: Tensor, sr: int) -> None:
    """Write ``audio`` to ``path`` as a 32-bit float WAV file, atomically.

    Args:
        path: destination file (its folder is created if missing). The format is WAV
            whatever the suffix.
        audio: floating-point tensor of shape ``(channels, N)`` or ``(N,)`` (mono), any
            device, finite values (no range restriction: samples are stored unclipped).
            It is detached and cast to float32.
        sr: sample rate in Hz, an int >= 1 (the WAV header stores an integer rate).

    Raises:
        TypeError: ``audio`` is not a floating-point tensor, or ``sr`` is not an int.
        ValueError: wrong shape, no samples, non-finite values, or ``sr < 1``.
    """
    path = _as_path("path", path)
    if not isinstance(audio, Tensor):
        raise TypeError(f"audio must be a torch.Tensor, got {type(audio).__name__}")
    if not audio.is_floating_point():
        raise TypeError(f"audio must be a floating-point tensor, got dtype {audio.dtype}")
    if audio.ndim not in (1, 2):
        raise ValueError(f"audio must have shape (channels, N) or (N,), got {tuple(audio.shape)}")
    sr = check_int("sr", sr, 1)
    audio = audio.detach().to("cpu", torch.float32)
    if audio.ndim == 1:
        audio = audio.unsqueeze(0)
    if audio.shape[0] == 0 or audio.shape[1] == 0:
        raise ValueError(
            f"audio must have at least one channel and one sample, got {tuple(audio.shape)}"
        )
    # NaN/inf are legal in a float WAV but break players and every later analysis.
    if not bool(torch.isfinite(audio).all()):
        raise ValueError("audio contains NaN or infinite values")
    # soundfile wants (frames, channels); a contiguous copy avoids a strided-array path.
    data = np.ascontiguousarray(audio.numpy().T)
    with atomic_output(path) as tmp:
        sf.write(tmp, data, sr, subtype="FLOAT", format="WAV")


def read_wav(path: PathLike) -> tuple[Tensor, int]:
    """Read a sound file (WAV or any format libsndfile reads).

    Returns:
        ``(audio, sr)``: ``audio`` is a float32 CPU tensor of shape ``(channels, N)`` (mono
        files give ``(1, N)``), ``sr`` the sample rate in Hz.
    """
    path = _as_path("path", path)
    data, sr = sf.read(path, dtype="float32", always_2d=True)
    return torch.from_numpy(np.ascontiguousarray(data.T)), int(sr)
