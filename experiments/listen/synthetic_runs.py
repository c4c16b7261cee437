"""Run folders of made-up sounds, in the layout training writes: for tests and the build
benchmark of the listening page (``scripts/benchmark.py listen``).

Each folder holds a minimal ``config.yaml`` and ``metrics.csv`` (one epoch, a test row), and a
``test_audio/`` written by :func:`experiments.test_audio_store.write_test_audio`: targets are
sums of decaying partials fixed by the sound's key (equal in every run), a reconstruction is
its target with the partials detuned by an amount fixed by loss, seed and sound, so every run
differs and errors can be told apart.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import yaml

from experiments.test_audio_store import write_test_audio

__all__ = ["sound", "write_synthetic_run", "write_synthetic_sweep"]


def sound(key_index: int, sr: int, seconds: float, detune: float = 0.0, gain: float = 1.0):
    """A target-like sound (``detune = 0``) or a reconstruction of it, float32 ``(1, N)``."""
    n = int(round(sr * seconds))
    t = np.arange(n) / sr
    base = 110.0 * 2 ** ((key_index % 24) / 8)
    x = sum(
        np.sin(2 * np.pi * base * k * (1 + detune) * t) * np.exp(-t * (3 + k)) / k
        for k in range(1, 5)
    )
    return torch.from_numpy((0.2 * gain * x).astype(np.float32)).unsqueeze(0)


def write_synthetic_run(
    root: str | os.PathLike,
    experiment: str,
    loss: str,
    seed: int,
    n_examples: int = 4,
    sr: int = 8000,
    seconds: float = 1.0,
    theta_names: Sequence[str] | None = ("density", "slope"),
    keys: Sequence[dict] | None = None,
    test_error: float | None = None,
    name: str | None = None,
    train_rows: int = 1,
) -> Path:
    """One run folder ``root/<experiment>/<loss>/<name>`` with ``n_examples`` kept sounds.

    ``theta_names=None``: recordings (no θ; the errors are an audio distance); ``keys``: the
    sounds' keys (default: grid points ``0..n-1`` with θ, file names without);
    ``test_error``: the run's test θ L1 / MSS value (default: from loss and seed);
    ``train_rows``: training rows of ``metrics.csv`` (a real run logs one per step).
    """
    rng = np.random.default_rng(abs(hash((experiment, loss, seed))) % 2**32)
    folder = Path(root) / experiment / loss / (name or f"2026-01-01_00-00-00_seed{seed}")
    folder.mkdir(parents=True)
    if keys is None:
        grid = [{"point": 7 * i, "seed": 7 * i} for i in range(n_examples)]
        named = [{"index": i, "name": f"kick_{i:02d}"} for i in range(n_examples)]
        keys = grid if theta_names else named
    examples = []
    for i, key in enumerate(keys):
        detune = 0.02 * rng.uniform(0.2, 1.0)
        theta = None if not theta_names else [((i * 0.37) % 1.0) for _ in theta_names]
        theta_hat = [0.5 for _ in theta_names or ()]
        errors = {"mss_log_linear": 10 * detune}
        if theta is not None:
            errors["theta_l1"] = 1000 * float(np.mean(np.abs(np.subtract(theta_hat, theta))))
        examples.append(
            {
                "position": i,
                "key": key,
                "x": sound(i, sr, seconds),
                "x_hat": sound(i, sr, seconds, detune, gain=rng.uniform(0.5, 1.5)),
                "theta": theta,
                "theta_hat": theta_hat,
                "errors": errors,
            }
        )
    checkpoint = folder / "checkpoints" / "best-epoch000.ckpt"
    write_test_audio(folder / "test_audio", sr, examples, str(checkpoint), 10 * len(keys),
                     list(theta_names or ()))  # fmt: skip
    config = {
        "seed": seed,
        "experiment_name": experiment,
        "test": True,
        "trainer": {"max_epochs": 1},
        "loss": {"_target_": f"made.up.{loss}"},
        "paths": {"output_dir": str(folder)},
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    error = test_error if test_error is not None else 100.0 + 10 * seed + len(loss)
    metric = "test/theta_l1" if theta_names else "test/mss_log_linear"
    train = "".join(f"{i},0,{1.0 / (i + 1):.6f},,,\n" for i in range(train_rows))
    (folder / "metrics.csv").write_text(
        f"step,epoch,train/loss,val/loss,test/loss,{metric}\n{train}"
        f"{train_rows - 1},0,,0.9,,\n{train_rows},0,,,0.8,{error}\n"
    )
    return folder


def write_synthetic_sweep(
    root: str | os.PathLike,
    experiment: str,
    losses: Sequence[str],
    seeds: Sequence[int],
    **kwargs,
) -> list[Path]:
    """:func:`write_synthetic_run` for every loss and seed."""
    return [
        write_synthetic_run(root, experiment, loss, seed, **kwargs)
        for loss in losses
        for seed in seeds
    ]
