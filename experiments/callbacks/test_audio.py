"""Callback keeping a few test sounds of the tested checkpoint: what a listening page plays.

At the end of the test (after training, the best checkpoint's), ``n_examples`` examples of the
test dataset, spread evenly over its positions (``round(linspace(0, n - 1, n_examples))``; all
of them when there are fewer), are matched again by the tested model and written with
:func:`experiments.test_audio_store.write_test_audio`: target and reconstruction WAVs and a
manifest with the example's identity, θ, θ̂ and its errors (θ L1 in ‰ when the data have θ,
and each of ``distances`` on the audio). The positions depend on the test set alone, never on
the run's seed or data order, so every run of an experiment keeps the same sounds and their
rows line up on the page (``scripts/listen.py``).

The examples are matched by :meth:`experiments.module.SoundMatching.test_examples` in one
batch of their own: the reconstruction seeds depend on each example alone, so the sounds are
those of the test loop, also for the examples that a ``drop_last`` test loader left out.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset, default_collate

from experiments.callbacks.audio_examples import wav_sample_rate
from experiments.test_audio_store import write_test_audio
from scrapl.validation import check_int

__all__ = ["KEY_NAMES", "TestAudio", "kept_positions"]

# Batch entries that identify an example (θ grid: grid point and target seed; one-shots: the
# sound's index in its collection and its name).
KEY_NAMES = ("point", "seed", "index", "name")


def kept_positions(n_test: int, n_examples: int) -> list[int]:
    """The test-dataset positions kept: ``n_examples`` spread evenly over ``range(n_test)``."""
    n_test, n_examples = check_int("n_test", n_test, 0), check_int("n_examples", n_examples, 1)
    if n_test <= n_examples:
        return list(range(n_test))
    return sorted({int(round(v)) for v in np.linspace(0, n_test - 1, n_examples)})


def _test_dataset(trainer: pl.Trainer) -> Dataset:
    dataset = getattr(trainer.datamodule, "test_dataset", None)
    if dataset is not None:
        return dataset
    loaders = trainer.test_dataloaders
    loader = loaders[0] if isinstance(loaders, (list, tuple)) else loaders
    dataset = getattr(loader, "dataset", None)
    if dataset is None:
        raise TypeError("TestAudio needs a test dataset (datamodule.test_dataset or a DataLoader)")
    return dataset


def _plain(value: Any) -> int | str:
    if isinstance(value, Tensor):
        value = value.item()
    if isinstance(value, (bool, float)) or not isinstance(value, (int, str, np.integer)):
        raise TypeError(f"an example's identity entries must be ints or strings, got {value!r}")
    return value if isinstance(value, str) else int(value)


class TestAudio(pl.Callback):
    """Write the test sounds of :mod:`this module <experiments.callbacks.test_audio>`.

    Args:
        out_dir: the folder written (replaced whole at every test), e.g. ``<run>/test_audio``.
        n_examples: how many test examples to keep (>= 1).
        distances: name -> audio distance ``d(x_hat, x) -> scalar`` (e.g. auraloss's MSS),
            evaluated on each kept example and stored among its errors.
    """

    __test__ = False  # a callback, not a pytest test class

    def __init__(
        self,
        out_dir: str | os.PathLike,
        n_examples: int = 16,
        distances: Mapping[str, nn.Module] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(out_dir, (str, os.PathLike)) or not str(out_dir):
            raise TypeError(f"out_dir must be a non-empty path (a folder), got {out_dir!r}")
        self.out_dir = Path(out_dir)
        self.n_examples = check_int("n_examples", n_examples, 1)
        distances = {} if distances is None else distances
        if not isinstance(distances, Mapping):
            raise TypeError(f"distances must be a mapping name -> module, got {type(distances)}")
        for name, distance in distances.items():
            if not isinstance(name, str) or not name or name == "theta_l1":
                raise ValueError(f"distance names must be non-empty and not 'theta_l1': {name!r}")
            if not isinstance(distance, nn.Module):
                raise TypeError(f"distances[{name!r}] must be a torch.nn.Module")
        self.distances = dict(distances)

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        if not callable(getattr(pl_module, "test_examples", None)):
            raise TypeError(
                f"TestAudio needs the module's test_examples(batch) (SoundMatching has it), "
                f"got {type(pl_module).__name__}"
            )
        dataset = _test_dataset(trainer)
        positions = kept_positions(len(dataset), self.n_examples)
        if not positions:
            return
        items = [dataset[i] for i in positions]
        batch = default_collate(items)
        batch = {
            k: v.to(pl_module.device) if isinstance(v, Tensor) else v for k, v in batch.items()
        }
        with torch.no_grad():
            out = pl_module.test_examples(batch)
            theta = batch.get("theta")
            errors = self._errors(out, theta)
        examples = []
        for j, (position, item) in enumerate(zip(positions, items, strict=True)):
            key = {k: _plain(item[k]) for k in KEY_NAMES if k in item}
            if not key:
                key = {"position": position}
            examples.append(
                {
                    "position": position,
                    "key": key,
                    "x": out["x"][j].float().cpu(),
                    "x_hat": out["x_hat"][j].float().cpu(),
                    "theta": None if theta is None else theta[j].tolist(),
                    "theta_hat": out["theta_hat"][j].tolist(),
                    "errors": {name: float(v[j]) for name, v in errors.items()},
                }
            )
        write_test_audio(
            self.out_dir,
            wav_sample_rate(pl_module.synth.sr),
            examples,
            checkpoint=str(trainer.ckpt_path or ""),
            n_test=len(dataset),
            theta_names=getattr(pl_module, "theta_names", []) if theta is not None else [],
        )

    def _errors(self, out: Mapping[str, Tensor], theta: Tensor | None) -> dict[str, Tensor]:
        errors = {}
        if theta is not None:
            # Per mille of the unit range, averaged over θ's dimensions, per example (the
            # module's θ L1 of a batch of one).
            errors["theta_l1"] = 1000.0 * (out["theta_hat"] - theta).abs().mean(dim=1)
        x, x_hat = out["x"], out["x_hat"]
        for name, distance in self.distances.items():
            distance.to(x.device).eval()
            errors[name] = torch.stack(
                [distance(x_hat[i : i + 1], x[i : i + 1]).reshape(()) for i in range(len(x))]
            )
        return {k: v.detach().double().cpu() for k, v in errors.items()}
