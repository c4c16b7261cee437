"""One run, one folder: a unique name per launch, and the check before a run writes there.

**Names.** ``scripts/train.py`` names every launch once, before Hydra builds its config:
:func:`new_run_name` (``2026-05-01_12-30-45.123_p4567-3fa2``: the time to the millisecond,
the process id and a random suffix; sorting the names sorts the launches by time), passed in
the environment variable :data:`RUN_NAME_VARIABLE`, from which ``configs/hydra/default.yaml``
makes the folder (``<run name>_seed<seed>``, ``<run name>_seed<seed>_job<n>`` for a sweep's
jobs). Runs started in the same second, on one machine or many, get different folders; the
processes of one launch share its name: a sweep's jobs (told apart by their number), and a
job that a scheduler requeues, which runs with the environment it was submitted with and so
finds its folder again.

**The check.** Before anything is written, :func:`plan_start` decides how a run starts in its
folder, from the files there:

* no run's files (``config.yaml``, ``metrics.csv``, ``summary.json``, checkpoints): a fresh
  start;
* another run's (its ``config.yaml`` differs from this run's beyond :data:`RESTART_KEYS` and
  :data:`OUTPUT_ONLY_KEYS`, or its files are there without a ``config.yaml``):
  :class:`RunFolderConflict`, naming the folder and what differs; nothing there is changed;
* this run's (the same config; ``auto_resume=true``): it continues in place, from
  ``checkpoints/last.ckpt`` if there is one (``resumed_in_place``), else it starts again and
  the earlier attempt's ``metrics.csv``, ``summary.json`` and ``checkpoints/`` are kept in
  ``previous_attempts/<n>/`` (``restarted_in_place``). With ``auto_resume=false`` this is a
  conflict too.

:func:`apply_start` then does what was decided (trims ``metrics.csv`` to the checkpoint, or
moves the earlier attempt aside); under data parallel only rank 0 calls it.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# experiments.checkpoints (torch) is imported where it is used: scripts/train.py imports this
# module before parsing its arguments, and --help should not wait for torch.

__all__ = [
    "OUTPUT_ONLY_KEYS",
    "RESTART_KEYS",
    "RUN_NAME_VARIABLE",
    "RunFolderConflict",
    "RunStart",
    "apply_start",
    "new_run_name",
    "plan_start",
]

RUN_NAME_VARIABLE = "SCRAPL_RUN_NAME"
# Config keys that differ between attempts of one run: written by scripts/train.py (where the
# run came from, its restarts), or only saying whether a restart continues in place.
RESTART_KEYS = ("resumed_from", "resumed_in_place", "restarted_in_place", "auto_resume")
# Config keys (and the keys below them) that decide only which files are written, when and
# how (loggers, when last.ckpt is written, the class writing the best-k files), not what the
# run computes: a run may continue in place with other values.
OUTPUT_ONLY_KEYS = (
    "logger",
    "trainer.enable_progress_bar",
    "callbacks.last_checkpoint",
    "callbacks.last_checkpoint_steps",
    "callbacks.model_checkpoint._target_",
    "callbacks.model_checkpoint.keep_pathwise_state",
    "checkpoint",
    "module.checkpoint_pathwise_dtype",
    "stop_signals",
)
# The files by which a folder holds a run (.hydra/ and train.log are written by every start).
RUN_FILES = ("config.yaml", "metrics.csv", "summary.json")
MOVED_ASIDE = ("metrics.csv", "summary.json", "checkpoints")
PREVIOUS = "previous_attempts"
MAX_LISTED = 8


class RunFolderConflict(ValueError):
    """The run folder holds another run (or this run where it must not continue)."""


def new_run_name(
    now_ns: int | None = None, pid: int | None = None, suffix: str | None = None
) -> str:
    """``YYYY-MM-DD_HH-MM-SS.mmm_p<pid>-<4 hex digits>``: the launch's local time
    (``time.time_ns()``), process id and a random suffix (drawn from the OS's entropy, not
    from any seeded generator)."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    pid = os.getpid() if pid is None else pid
    suffix = f"{random.SystemRandom().getrandbits(16):04x}" if suffix is None else suffix
    seconds, millis = divmod(now_ns // 1_000_000, 1000)
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S", time.localtime(seconds))
    return f"{stamp}.{millis:03d}_p{pid}-{suffix}"


@dataclass
class RunStart:
    """How a run starts in its folder.

    Attributes:
        kind: ``"fresh"``, ``"resume"`` (in place, from ``checkpoint``) or ``"restart"`` (in
            place, from the beginning or from the run's own ``ckpt_path``).
        checkpoint: the folder's ``checkpoints/last.ckpt`` for ``"resume"``, else None.
        records: the bookkeeping keys to write into ``config.yaml`` (the earlier attempts'
            ``resumed_in_place`` / ``restarted_in_place`` and this start's record).
        moved_to: for ``"restart"``, the folder the earlier attempt's files go to.
    """

    kind: str
    checkpoint: str | None = None
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    moved_to: Path | None = None


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, Mapping) and node:
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: node}


def _output_only(key: str) -> bool:
    return any(key == k or key.startswith(k + ".") for k in OUTPUT_ONLY_KEYS)


def _differences(found: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    """``key: <value in the folder> -> <value of this run>`` for every key that differs."""

    def comparable(cfg: Mapping[str, Any]) -> dict[str, Any]:
        flat = _flatten({k: v for k, v in cfg.items() if k not in RESTART_KEYS})
        return {k: v for k, v in flat.items() if k and not _output_only(k)}

    a, b = comparable(found), comparable(wanted)
    missing = "<not set>"
    return [
        f"{key}: {a.get(key, missing)!r} there, {b.get(key, missing)!r} in this run"
        for key in sorted(set(a) | set(b))
        if a.get(key, missing) != b.get(key, missing)
    ]


def _held_files(run_dir: Path) -> list[str]:
    held = [name for name in RUN_FILES if (run_dir / name).is_file()]
    ckpts = run_dir / "checkpoints"
    if ckpts.is_dir() and any(ckpts.iterdir()):
        held.append("checkpoints/")
    return held


def _records(found: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for key in ("resumed_in_place", "restarted_in_place"):
        value = found.get(key)
        if value is not None:
            if not isinstance(value, list):
                raise RunFolderConflict(f"config.yaml: {key} must be a list, got {value!r}")
            out[key] = list(value)
    return out


def plan_start(
    run_dir: str | os.PathLike, config: Mapping[str, Any], auto_resume: bool
) -> RunStart:
    """Decide how the run of ``config`` (its resolved config, as a mapping) starts in
    ``run_dir``; reads files only. Raises :class:`RunFolderConflict` (see the module
    docstring) and, for a ``last.ckpt`` that is not a checkpoint, ValueError."""
    run_dir = Path(run_dir)
    if not isinstance(auto_resume, bool):
        raise TypeError(f"auto_resume must be a bool, got {type(auto_resume).__name__}")
    held = _held_files(run_dir)
    if not held:
        return RunStart("fresh")
    where = f"run folder {str(run_dir)!r}"
    if "config.yaml" not in held:
        raise RunFolderConflict(
            f"{where} holds files of a run ({', '.join(held)}) but no config.yaml, so it cannot "
            "be told to be this run's: nothing there was changed. Start this run in another "
            "folder (leave hydra.run.dir and paths.output_dir at their defaults for a new one)."
        )
    try:
        found = yaml.safe_load((run_dir / "config.yaml").read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise RunFolderConflict(f"{where}: config.yaml cannot be read ({err})") from None
    if not isinstance(found, Mapping):
        raise RunFolderConflict(f"{where}: config.yaml is not a mapping")
    differences = _differences(found, config)
    if differences:
        listed = differences[:MAX_LISTED]
        more = len(differences) - len(listed)
        raise RunFolderConflict(
            f"{where} holds another run ({', '.join(held)}); its config.yaml differs from this "
            "run's in\n  "
            + "\n  ".join(listed)
            + (f"\n  ... and {more} more" if more else "")
            + "\nNothing there was changed. Start this run in another folder (leave "
            "hydra.run.dir and paths.output_dir at their defaults for a new one); to continue "
            "that run, use its own config, or ckpt_path=<its checkpoints/last.ckpt> for a "
            "changed one in a new folder."
        )
    if not auto_resume:
        raise RunFolderConflict(
            f"{where} already holds this run ({', '.join(held)}), and auto_resume=false never "
            "continues a run in place: nothing there was changed. Set auto_resume=true to "
            "continue it, or start it in another folder."
        )
    records = _records(found)
    last = run_dir / "checkpoints" / "last.ckpt"
    if last.is_file():
        from experiments.checkpoints import read_resume_checkpoint

        record = read_resume_checkpoint(last)
        resumed = [*records.get("resumed_in_place", []), record]
        return RunStart("resume", record["checkpoint"], {**records, "resumed_in_place": resumed})
    n = 1
    while (run_dir / PREVIOUS / str(n)).exists():
        n += 1
    moved_to = run_dir / PREVIOUS / str(n)
    record = {
        "previous_attempt": f"{PREVIOUS}/{n}",
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    restarted = [*records.get("restarted_in_place", []), record]
    return RunStart("restart", None, {**records, "restarted_in_place": restarted}, moved_to)


def apply_start(run_dir: str | os.PathLike, start: RunStart) -> None:
    """Do what :func:`plan_start` decided: for ``"resume"``, drop the rows of
    ``metrics.csv`` logged after the checkpoint (they are trained again); for ``"restart"``,
    move the earlier attempt's files into ``start.moved_to`` (renames: nothing is copied or
    deleted)."""
    run_dir = Path(run_dir)
    if start.kind == "resume":
        step = start.records["resumed_in_place"][-1]["global_step"]
        from experiments.checkpoints import trim_metrics_after

        trim_metrics_after(run_dir / "metrics.csv", step)
    elif start.kind == "restart":
        start.moved_to.mkdir(parents=True)
        for name in MOVED_ASIDE:
            if (run_dir / name).exists():
                os.replace(run_dir / name, start.moved_to / name)
    elif start.kind != "fresh":
        raise ValueError(f"start.kind must be 'fresh', 'resume' or 'restart', got {start.kind!r}")
