"""A run's kept test sounds on disk: targets, reconstructions and what was predicted.

The folder (``<run>/test_audio/``, or ``<run>/evaluations/<name>/test_audio/`` for a later
evaluation) holds, for a few test examples chosen by position in the test dataset::

    ex{ii}_target.wav, ex{ii}_recon.wav   32-bit float WAV at the synth's rate, unclipped
    examples.json                           the manifest below

``examples.json``::

    {"format": 1, "sr": 8192, "checkpoint": "<the checkpoint tested>", "n_test": 56,
     "theta_names": ["density", "slope"],        # [] for recordings
     "examples": [{"position": 0,                # index in the test dataset
                   "key": {"point": 3, "seed": 15},  # what identifies the sound in any run
                   "target": "ex00_target.wav", "recon": "ex00_recon.wav",
                   "theta": [...] | null, "theta_hat": [...],
                   "errors": {"theta_l1": 143.2, "mss_log_linear": 1.9}}, ...]}

``key`` holds the example's identity entries (``point`` and target ``seed`` on a θ grid,
``index`` and ``name`` for one-shots): two runs whose examples have equal keys heard the same
target. The folder is replaced whole (:func:`write_test_audio` fills a temporary sibling and
renames it into place), so a reader never sees files of two tests mixed.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.atomic_folder import replace_folder

__all__ = [
    "FORMAT",
    "MANIFEST",
    "KeptExample",
    "TestAudioSet",
    "read_test_audio",
    "write_test_audio",
]

FORMAT = 1
MANIFEST = "examples.json"
KEY_TYPES = (int, str)


@dataclass(frozen=True)
class KeptExample:
    """One kept test example as read back (paths are absolute)."""

    position: int
    key: tuple[tuple[str, int | str], ...]
    target: Path
    recon: Path
    theta: tuple[float, ...] | None
    theta_hat: tuple[float, ...]
    errors: dict[str, float]


@dataclass(frozen=True)
class TestAudioSet:
    """A ``test_audio`` folder as read back."""

    __test__ = False  # not a pytest test class

    folder: Path
    sr: int
    checkpoint: str
    n_test: int
    theta_names: tuple[str, ...]
    examples: tuple[KeptExample, ...]

    @property
    def keys(self) -> tuple[tuple[tuple[str, int | str], ...], ...]:
        return tuple(e.key for e in self.examples)


def write_test_audio(
    folder: str | os.PathLike,
    sr: int,
    examples: Sequence[Mapping[str, Any]],
    checkpoint: str,
    n_test: int,
    theta_names: Sequence[str],
) -> Path:
    """Write a ``test_audio`` folder (see the module docstring); returns its path.

    Each of ``examples`` has ``position``, ``key`` (str -> int | str), ``x`` and ``x_hat``
    (audio tensors ``(1, N)``), ``theta`` (a sequence of floats, or None), ``theta_hat`` and
    ``errors`` (str -> float).
    """
    # Imported here: reading a folder (the listening page) needs no torch.
    from torch import Tensor

    from experiments.audio_io import atomic_output, write_wav

    folder = Path(folder)
    if not examples:
        raise ValueError(f"no test examples to write into {folder}")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.tmp."))
    try:
        records = []
        for i, ex in enumerate(examples):
            record = {
                "position": int(ex["position"]),
                "key": {str(k): v for k, v in ex["key"].items()},
                "target": f"ex{i:02d}_target.wav",
                "recon": f"ex{i:02d}_recon.wav",
                "theta": None if ex["theta"] is None else [float(v) for v in ex["theta"]],
                "theta_hat": [float(v) for v in ex["theta_hat"]],
                "errors": {str(k): float(v) for k, v in ex["errors"].items()},
            }
            for name in ("x", "x_hat"):
                if not isinstance(ex[name], Tensor):
                    raise TypeError(f"examples[{i}][{name!r}] must be a tensor")
            write_wav(tmp / record["target"], ex["x"], sr)
            write_wav(tmp / record["recon"], ex["x_hat"], sr)
            records.append(record)
        manifest = {
            "format": FORMAT,
            "sr": int(sr),
            "checkpoint": str(checkpoint),
            "n_test": int(n_test),
            "theta_names": [str(n) for n in theta_names],
            "examples": records,
        }
        with atomic_output(tmp / MANIFEST) as out:
            out.write_text(json.dumps(manifest, indent=1) + "\n")
        os.chmod(tmp, 0o755)
        replace_folder(tmp, folder)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(tmp)
        raise
    return folder


def _fail(folder: Path, what: str) -> ValueError:
    return ValueError(f"{folder / MANIFEST}: {what}")


def _floats(folder: Path, where: str, value: object) -> tuple[float, ...]:
    if not isinstance(value, list) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
    ):
        raise _fail(folder, f"{where} must be a list of numbers, got {value!r}")
    return tuple(float(v) for v in value)


def _example(folder: Path, i: int, record: object, n_theta: int) -> KeptExample:
    where = f"examples[{i}]"
    if not isinstance(record, dict):
        raise _fail(folder, f"{where} is not a mapping")
    missing = {"position", "key", "target", "recon", "theta_hat", "errors"} - set(record)
    if missing:
        raise _fail(folder, f"{where} lacks {sorted(missing)}")
    key = record["key"]
    if (
        not isinstance(key, dict)
        or not key
        or not all(isinstance(v, KEY_TYPES) and not isinstance(v, bool) for v in key.values())
    ):
        raise _fail(folder, f"{where}.key must map names to ints or strings, got {key!r}")
    files = []
    for name in ("target", "recon"):
        file = record[name]
        if not isinstance(file, str) or Path(file).name != file:
            raise _fail(folder, f"{where}.{name} must be a file name in the folder, got {file!r}")
        if not (folder / file).is_file():
            raise _fail(folder, f"{where}.{name}: {file} is missing")
        files.append(folder / file)
    theta = record.get("theta")
    theta = None if theta is None else _floats(folder, f"{where}.theta", theta)
    theta_hat = _floats(folder, f"{where}.theta_hat", record["theta_hat"])
    if theta is not None and len(theta) != n_theta:
        raise _fail(folder, f"{where}.theta has {len(theta)} values for {n_theta} theta_names")
    errors = record["errors"]
    if not isinstance(errors, dict) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        for v in errors.values()
    ):
        raise _fail(folder, f"{where}.errors must map names to finite numbers, got {errors!r}")
    return KeptExample(
        position=int(record["position"]),
        key=tuple(sorted(key.items())),
        target=files[0],
        recon=files[1],
        theta=theta,
        theta_hat=theta_hat,
        errors={str(k): float(v) for k, v in errors.items()},
    )


def read_test_audio(folder: str | os.PathLike) -> TestAudioSet:
    """Read a ``test_audio`` folder; raises ``ValueError`` naming the file and the problem
    (``FileNotFoundError`` without a manifest)."""
    folder = Path(folder)
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise FileNotFoundError(f"no {MANIFEST} in {folder}")
    try:
        data = json.loads(manifest.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise _fail(folder, f"cannot be read: {err}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _fail(folder, f"not a test-audio manifest of format {FORMAT}")
    sr, n_test, names = data.get("sr"), data.get("n_test"), data.get("theta_names")
    if not isinstance(sr, int) or sr < 1 or not isinstance(n_test, int) or n_test < 0:
        raise _fail(folder, f"sr and n_test must be positive ints, got {sr!r}, {n_test!r}")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise _fail(folder, f"theta_names must be a list of strings, got {names!r}")
    records = data.get("examples")
    if not isinstance(records, list) or not records:
        raise _fail(folder, "examples must be a non-empty list")
    examples = tuple(_example(folder, i, r, len(names)) for i, r in enumerate(records))
    if len({e.key for e in examples}) != len(examples):
        raise _fail(folder, "two examples have the same key")
    return TestAudioSet(
        folder=folder,
        sr=sr,
        checkpoint=str(data.get("checkpoint", "")),
        n_test=n_test,
        theta_names=tuple(names),
        examples=examples,
    )
