"""Run folders written by the tests, in the layout and row order of scripts/train.py."""

from __future__ import annotations

import copy
import csv
from pathlib import Path
from typing import Any

import yaml

BASE_CONFIG: dict[str, Any] = {
    "seed": 0,
    "ckpt_path": None,
    "validate_before_fit": True,
    "test": True,
    "experiment_name": "granular",
    "theta_names": ["density", "slope"],
    "lr": 1e-3,
    "data": {"batch_size": 4, "shuffle_seed": 0},
    "loss": {"_target_": "scrapl.SCRAPLLoss", "seed": 0},
    "trainer": {"max_epochs": 3, "max_steps": -1, "enable_progress_bar": False},
    "callbacks": {"last_checkpoint": {"dirpath": "<run>/checkpoints"}},
    "logger": {"csv": {"save_dir": "<run>"}},
    "paths": {"out_dir": "out", "output_dir": "<run>"},
}
BASE_CHOICES = {"experiment": "granular", "loss": "scrapl", "preset": "tiny", "data": "theta_grid"}


def _replace(node: Any, old: str, new: str) -> Any:
    if isinstance(node, dict):
        return {k: _replace(v, old, new) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace(v, old, new) for v in node]
    return node.replace(old, new) if isinstance(node, str) else node


def _merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def write_metrics(path: Path, rows: list[dict[str, float]]) -> None:
    columns = ["epoch", "step"] + sorted({k for r in rows for k in r} - {"epoch", "step"})
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)


def lightning_rows(
    val: list[float],
    test: dict[str, float] | None,
    steps_per_epoch: int = 2,
    prefit: bool = True,
    step_time: float | None = None,
    first_epoch: int = 0,
    warmup_time: float | None = None,
) -> list[dict[str, float]]:
    """Rows as Lightning logs them: the pre-fit validation at step 0, per epoch the training
    steps then a validation at the last step's index, finally a test row."""
    rows: list[dict[str, float]] = []
    values = list(val)
    if prefit:
        rows.append({"epoch": first_epoch, "step": first_epoch * steps_per_epoch,
                     "val/theta_l1": values.pop(0), "val/loss": 1.0})  # fmt: skip
    spent = 0.0
    for e, v in enumerate(values, start=first_epoch):
        for k in range(steps_per_epoch):
            step = e * steps_per_epoch + k
            row = {"epoch": e, "step": step, "train/loss": 1.0, "train/theta_l1": 400.0}
            if step_time is not None:
                spent += step_time
                row.update({"time/step_s": step_time, "time/train_s": spent})
                if warmup_time is not None:
                    row["time/warmup_s"] = warmup_time
            rows.append(row)
        rows.append({"epoch": e, "step": (e + 1) * steps_per_epoch - 1, "val/theta_l1": v,
                     "val/loss": v / 1000})  # fmt: skip
    if test is not None:
        end = first_epoch + len(values)
        rows.append({"epoch": end, "step": end * steps_per_epoch, **test})
    return rows


def write_run(
    root: Path,
    experiment: str = "granular",
    loss: str = "scrapl",
    seed: int = 0,
    val: list[float] = (300.0, 200.0, 120.0, 90.0),
    test: dict[str, float] | None = None,
    name: str | None = None,
    config: dict[str, Any] | None = None,
    choices: dict[str, str] | None = None,
    hydra: bool = True,
    rows: list[dict[str, float]] | None = None,
    step_time: float | None = None,
    warmup_time: float | None = None,
) -> Path:
    """A complete run folder ``root/<experiment>/<loss>/<name>``; returns the folder.

    ``val`` is the pre-fit validation then one value per epoch (max_epochs = len(val) − 1);
    ``test`` defaults to θ L1 metrics derived from the seed.
    """
    run = root / experiment / loss / (name or f"2026-01-01_00-00-0{seed % 10}_seed{seed}")
    run.mkdir(parents=True)
    if test is None:
        test = {"test/theta_l1": 100.0 + seed, "test/theta_l1_density": 90.0 + 2 * seed,
                "test/theta_l1_slope": 110.0, "test/loss": 0.5}  # fmt: skip
    cfg = _merge(BASE_CONFIG, {"seed": seed, "experiment_name": experiment,
                               "data": {"shuffle_seed": seed}, "loss": {"seed": seed},
                               "trainer": {"max_epochs": len(val) - 1}})  # fmt: skip
    cfg = _replace(_merge(cfg, config or {}), "<run>", str(run))
    (run / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    if hydra:
        picked = {**BASE_CHOICES, "experiment": experiment, "loss": loss, **(choices or {})}
        (run / ".hydra").mkdir()
        (run / ".hydra" / "hydra.yaml").write_text(
            yaml.safe_dump({"hydra": {"runtime": {"choices": picked}}})
        )
    if rows is None:
        rows = lightning_rows(list(val), test, step_time=step_time, warmup_time=warmup_time)
    write_metrics(run / "metrics.csv", rows)
    return run
