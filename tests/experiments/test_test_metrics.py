"""TestMetrics (experiments/callbacks/test_metrics.py): per-example metrics, their table, set
metrics; and the TR-808 metric modules it runs (features, FAD)."""

from __future__ import annotations

import csv
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from experiments.callbacks.test_metrics import TestMetrics
from experiments.metrics.embeddings import (
    FrechetAudioDistanceMetric,
    MFCCFrameEmbedding,
    frechet_audio_distance,
)
from experiments.metrics.tr808_features import TR808FeatureDistances, feature_distances

SR = 44100
N = 36000  # enough for the 66 feature frames


def hits(n: int, seed: int) -> Tensor:
    """Decaying noise bursts and tones, (n, 1, N)."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(N) / SR
    freq = 60 + 2000 * torch.rand(n, 1, generator=g)
    decay = 3 + 30 * torch.rand(n, 1, generator=g)
    tone = torch.sin(2 * math.pi * freq * t) * torch.exp(-decay * t)
    noise = 0.3 * torch.randn(n, N, generator=g) * torch.exp(-3 * decay * t)
    return (tone + noise).unsqueeze(1)


class FakeModule:
    """What the callback reads from a SoundMatching module, with a recording ``log``."""

    def __init__(self) -> None:
        self.device = torch.device("cpu")
        self.test_audio: dict | None = None
        self.keep_test_audio = False
        self.logged: list[tuple[str, float, int]] = []

    def log(self, name: str, value: float, on_step: bool, on_epoch: bool, batch_size: int):
        assert not on_step and on_epoch
        self.logged.append((name, float(value), batch_size))


def run_test(callback: TestMetrics, batches: list[tuple[dict, Tensor, Tensor]]) -> FakeModule:
    module = FakeModule()
    trainer = SimpleNamespace(is_global_zero=True)
    callback.on_test_start(trainer, module)
    assert module.keep_test_audio is True  # asks for the audio even under a θ loss
    for i, (batch, x, x_hat) in enumerate(batches):
        module.test_audio = {"x": x, "x_hat": x_hat}
        callback.on_test_batch_end(trainer, module, None, batch, i)
    callback.on_test_epoch_end(trainer, module)
    return module


def two_batches() -> list[tuple[dict, Tensor, Tensor]]:
    x, x_hat = hits(6, 0), hits(6, 1)
    out = []
    for lo, hi in ((0, 4), (4, 6)):
        batch = {"name": [f"s{i}.wav" for i in range(lo, hi)],
                 "drum_type": ["kick"] * (hi - lo), "index": torch.arange(lo, hi)}  # fmt: skip
        out.append((batch, x[lo:hi], x_hat[lo:hi]))
    return out


def test_per_example_values_table_and_set_metric(tmp_path) -> None:
    table = tmp_path / "out" / "test_examples.csv"
    embedding = MFCCFrameEmbedding(sr=SR)
    callback = TestMetrics(
        {"l1": nn.L1Loss(), "features": TR808FeatureDistances(SR),
         "fad": FrechetAudioDistanceMetric(embedding, sr=SR)},
        table_path=table,
    )  # fmt: skip
    batches = two_batches()
    module = run_test(callback, batches)
    x = torch.cat([b[1] for b in batches])
    x_hat = torch.cat([b[2] for b in batches])

    with open(table, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6
    assert list(rows[0])[:4] == ["example", "name", "drum_type", "index"]
    assert [r["name"] for r in rows] == [f"s{i}.wav" for i in range(6)]
    assert [int(r["index"]) for r in rows] == list(range(6))
    # The batch-mean metric, evaluated per example.
    l1 = (x_hat - x).abs().mean(dim=(1, 2))
    np.testing.assert_allclose([float(r["l1"]) for r in rows], l1.numpy(), rtol=1e-6)
    # The feature distances, per example, as feature_distances computes them.
    expected = feature_distances(x, x_hat, SR, pad=0)
    assert set(expected) <= set(rows[0])
    for key, values in expected.items():
        np.testing.assert_allclose([float(r[key]) for r in rows], values[:, 0], rtol=1e-9)

    # Logged: per batch the mean over its examples (Lightning weights them by batch_size) ...
    by_name: dict[str, list[tuple[float, int]]] = {}
    for name, value, size in module.logged:
        by_name.setdefault(name, []).append((value, size))
    assert by_name["test/l1"] == [
        (pytest.approx(float(l1[:4].mean())), 4),
        (pytest.approx(float(l1[4:].mean())), 2),
    ]
    assert set(by_name) == {"test/l1", "test/fad", *(f"test/{k}" for k in expected)}
    assert callback.logged_names[0] == "test/l1" and callback.logged_names[-1] == "test/fad"
    # ... and the set metric once, over all six examples.
    ((fad, _),) = by_name["test/fad"]
    assert fad == pytest.approx(frechet_audio_distance(x, x_hat, SR, embedding), rel=1e-9)
    assert fad > 0


def test_fad_of_identical_sets_is_zero() -> None:
    metric = FrechetAudioDistanceMetric(MFCCFrameEmbedding(sr=SR), sr=SR)
    x = hits(3, 2)
    assert metric.compare_sets(x, x) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(TypeError, match="frame embedding"):
        FrechetAudioDistanceMetric(nn.Identity(), sr=SR)


def test_feature_module_drops_its_pad() -> None:
    x, x_hat = hits(2, 3), hits(2, 4)
    padded = torch.nn.functional.pad(x, (512, 0)), torch.nn.functional.pad(x_hat, (512, 0))
    with_pad = TR808FeatureDistances(SR, pad=512)(padded[1], padded[0])
    without = TR808FeatureDistances(SR)(x_hat, x)
    assert with_pad.keys() == without.keys()
    for k in without:
        assert with_pad[k].shape == (2,)
        torch.testing.assert_close(with_pad[k], without[k])


class Twice(nn.Module):
    def forward(self, x_hat: Tensor, x: Tensor) -> dict[str, Tensor]:
        return {"l1": (x_hat - x).abs().mean(dim=(1, 2))}


def test_errors(tmp_path) -> None:
    batches = two_batches()[:1]
    with pytest.raises(ValueError, match="two test metrics are called 'l1'"):
        run_test(TestMetrics({"l1": nn.L1Loss(), "other": Twice()}), batches)
    callback = TestMetrics({"l1": nn.L1Loss()})
    module = FakeModule()
    callback.on_test_start(None, module)
    with pytest.raises(TypeError, match="test_audio"):
        callback.on_test_batch_end(None, module, None, {}, 0)
    # No table without a path; nothing is written anywhere.
    run_test(TestMetrics({"l1": nn.L1Loss()}), batches)
    assert not any(tmp_path.iterdir())
