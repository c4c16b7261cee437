"""Run folders written by ``scripts/train.py``, read back from files alone.

Layout (see the README)::

    <root>/<experiment>/<loss>/<run name>_seed<seed>[_job<n>]/   (experiments.run_dirs)
        config.yaml            the resolved config of the run
        .hydra/hydra.yaml      Hydra's runtime, with the config-group choices (optional)
        metrics.csv            CSVLogger: train rows per step, val/test rows per epoch
        evaluations/<name>/metrics.csv   later test evaluations (scripts/evaluate.py)

A folder holding ``config.yaml`` or ``metrics.csv`` is a run folder; nothing below it is
searched for further runs. :func:`read_runs` returns the readable ones and, for every other,
the reason it was skipped (no metrics.csv, and why; a metrics.csv that is not one run's
history; ...).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from experiments.analysis.errors import RunFolderError
from experiments.analysis.metrics_csv import MetricsTable, one_history, read_metrics_csv

__all__ = ["RunFolder", "Skipped", "find_run_folders", "read_run", "read_runs"]

RUN_FILES = ("config.yaml", "metrics.csv")


@dataclass(frozen=True)
class Skipped:
    """A folder left out of the aggregation, and why."""

    path: Path
    reason: str


@dataclass
class RunFolder:
    """One run folder's files.

    Attributes:
        path: the folder.
        config: ``config.yaml`` as plain Python data.
        choices: Hydra's config-group choices (``hydra.runtime.choices``), ``{}`` without
            ``.hydra/hydra.yaml``.
        metrics: ``metrics.csv``.
        evaluations: ``evaluations/*/metrics.csv``, by folder name (oldest first when the
            names are timestamps).
        experiment, loss, seed: the run's identity (Hydra's ``experiment`` and ``loss``
            choices; without them the config's ``experiment_name`` and the name of the
            folder above the run).
        summary: ``summary.json`` (written by ``scripts/train.py`` when a run finishes:
            θ errors, best checkpoint, ``wall_time_s``), ``{}`` without it.
    """

    path: Path
    config: dict[str, Any]
    choices: dict[str, str]
    metrics: MetricsTable
    evaluations: list[MetricsTable] = field(default_factory=list)
    experiment: str = ""
    loss: str = ""
    seed: int = 0
    summary: dict[str, Any] = field(default_factory=dict)


def _load_yaml(path: Path, what: str) -> Any:
    try:
        with open(path) as f:
            return yaml.safe_load(f)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise RunFolderError(f"{what} cannot be read: {str(err).splitlines()[0]}") from err


def _choices(path: Path) -> dict[str, str]:
    hydra_yaml = path / ".hydra" / "hydra.yaml"
    if not hydra_yaml.is_file():
        return {}
    data = _load_yaml(hydra_yaml, ".hydra/hydra.yaml")
    try:
        choices = data["hydra"]["runtime"]["choices"]
    except (TypeError, KeyError):
        raise RunFolderError(".hydra/hydra.yaml has no hydra.runtime.choices") from None
    if not isinstance(choices, dict):
        raise RunFolderError(".hydra/hydra.yaml: hydra.runtime.choices is not a mapping")
    return {str(k): str(v) for k, v in choices.items() if v is not None}


def _summary(path: Path) -> dict[str, Any]:
    summary_json = path / "summary.json"
    if not summary_json.is_file():
        return {}
    try:
        data = json.loads(summary_json.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise RunFolderError(f"summary.json cannot be read: {str(err).splitlines()[0]}") from err
    if not isinstance(data, dict):
        raise RunFolderError("summary.json is not a mapping")
    return data


def _no_metrics_reason(config: dict[str, Any]) -> str:
    loggers = config.get("logger")
    if not isinstance(loggers, dict) or loggers.get("csv") is None:
        names = sorted(k for k, v in loggers.items() if v is not None) if loggers else []
        used = f"loggers: {', '.join(names)}" if names else "no logger"
        return (
            f"no metrics.csv: trained without the CSV logger ({used}; logger.csv=null or "
            "logger=none), and metrics.csv is what the analysis reads"
        )
    return "no metrics.csv: the run stopped before logging anything"


def _resumed_at(config: dict[str, Any]) -> list[int]:
    """The global steps at which the run continued in its own folder."""
    records = config.get("resumed_in_place")
    if not isinstance(records, list):
        return []
    return [r["global_step"] for r in records if isinstance(r, dict) and "global_step" in r]


def read_run(path: str | os.PathLike) -> RunFolder:
    """Read one run folder; raises :class:`RunFolderError` with the reason it is unusable."""
    path = Path(path)
    if not (path / "config.yaml").is_file():
        raise RunFolderError("no config.yaml (not a training run, or it crashed before starting)")
    config = _load_yaml(path / "config.yaml", "config.yaml")
    if not isinstance(config, dict):
        raise RunFolderError("config.yaml is not a mapping")
    if not (path / "metrics.csv").is_file():
        raise RunFolderError(_no_metrics_reason(config))
    metrics = one_history(read_metrics_csv(path / "metrics.csv"), _resumed_at(config))
    choices = _choices(path)
    seed = config.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise RunFolderError(f"config.yaml: seed must be an int, got {seed!r}")
    experiment = choices.get("experiment") or config.get("experiment_name")
    if not isinstance(experiment, str) or not experiment:
        raise RunFolderError(
            "no experiment: config.yaml has no experiment_name and .hydra/hydra.yaml no "
            "experiment choice"
        )
    evaluations = []
    for sub in sorted((path / "evaluations").glob("*/metrics.csv")):
        try:
            evaluations.append(read_metrics_csv(sub))
        except RunFolderError as err:
            raise RunFolderError(f"{sub.relative_to(path)}: {err}") from None
    return RunFolder(
        path=path,
        config=config,
        choices=choices,
        metrics=metrics,
        evaluations=evaluations,
        experiment=experiment,
        loss=choices.get("loss") or path.parent.name,
        seed=seed,
        summary=_summary(path),
    )


def find_run_folders(root: str | os.PathLike) -> list[Path]:
    """Every run folder under ``root`` (``root`` itself included), sorted by path."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"RUNS_DIR must be a folder, got {str(root)!r}")
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        if any(name in filenames for name in RUN_FILES):
            found.append(Path(dirpath))
            dirnames.clear()  # evaluations/, .hydra/, checkpoints/ belong to the run
        else:
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
    return sorted(found)


def read_runs(root: str | os.PathLike) -> tuple[list[RunFolder], list[Skipped]]:
    """Read every run folder under ``root``: ``(readable runs, skipped folders)``."""
    runs, skipped = [], []
    for path in find_run_folders(root):
        try:
            runs.append(read_run(path))
        except RunFolderError as err:
            skipped.append(Skipped(path, str(err)))
    return runs, skipped
