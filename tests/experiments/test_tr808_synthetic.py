"""Tests of the synthetic TR-808 one-shots: regions, rendering, cache."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from experiments.data.tr808_synthetic import (
    DRUM_REGIONS,
    TR808SyntheticOneShots,
    draw_region_theta,
)
from experiments.synths.tr808 import PARAMETERS, TR808Synth

N = 8192  # short sounds keep the tests fast; the regions do not depend on the length


def _small(cache_dir, **kwargs) -> TR808SyntheticOneShots:
    args = dict(n_per_type=3, split=(6, 3, 3), n_samples=N)
    return TR808SyntheticOneShots(cache_dir, **{**args, **kwargs})


def test_regions_lie_inside_the_synth_ranges():
    names = {p.name: p for p in PARAMETERS}
    for drum, region in DRUM_REGIONS.items():
        assert set(region) <= set(names), drum
        for name, (lo, hi) in region.items():
            assert names[name].lo <= lo <= hi <= names[name].hi, (drum, name)


def test_theta_inside_its_region_and_reproducible():
    for drum, region in DRUM_REGIONS.items():
        theta = torch.stack([draw_region_theta(drum, seed) for seed in range(50)])
        physical = {p.name: p.lo + (p.hi - p.lo) * theta[:, i] for i, p in enumerate(PARAMETERS)}
        for name, (lo, hi) in region.items():
            values = physical[name]
            assert values.min() >= lo - 1e-3 * abs(lo) - 1e-4 and values.max() <= hi + 1e-3 * abs(
                hi
            )
            assert values.max() - values.min() > 0.5 * (hi - lo)  # spread over the region
        assert torch.equal(draw_region_theta(drum, 7), draw_region_theta(drum, 7))
    with pytest.raises(ValueError, match="drum type must be one of"):
        draw_region_theta("cowbell", 0)


def test_examples_are_synth_renders_of_their_theta(tmp_path):
    data = _small(tmp_path)
    assert len(data) == 12
    assert data.drum_types[:5] == ["kick", "snare", "tom", "hat", "kick"]
    assert data.names[4] == "kick_0004"
    expected = TR808Synth(n_samples=N)(data.theta)[:, 0]
    torch.testing.assert_close(data.audio, expected, rtol=0, atol=1e-6)
    item = data.dataset("val")[0]
    assert set(item) == {"x", "index", "name", "drum_type", "shift", "theta"}
    assert item["theta"].shape == (14,) and torch.equal(item["theta"], data.theta[item["index"]])
    # example i depends on seed + i only: more examples leave the first ones unchanged
    bigger = _small(tmp_path, n_per_type=4, split=(8, 4, 4))
    torch.testing.assert_close(bigger.theta[:12], data.theta, rtol=0, atol=0)


def test_drum_regions_sound_as_named(tmp_path):
    data = _small(tmp_path, n_per_type=4, n_samples=16384, split=(8, 4, 4))
    spectrum = np.abs(np.fft.rfft(data.audio.numpy(), axis=1)) ** 2
    freqs = np.fft.rfftfreq(16384, 1 / 44100)
    centroid = (spectrum * freqs).sum(axis=1) / spectrum.sum(axis=1)
    by_type = {t: centroid[[d == t for d in data.drum_types]] for t in DRUM_REGIONS}
    assert by_type["kick"].max() < by_type["snare"].min()
    assert by_type["tom"].max() < by_type["hat"].min()
    assert by_type["hat"].min() > 5000


def test_rendered_once_then_loaded_from_the_cache(tmp_path, monkeypatch):
    first = _small(tmp_path)
    files = list(tmp_path.iterdir())
    assert files == [first.cache_path]  # no temporary file left behind

    def no_render(*args, **kwargs):
        raise AssertionError("rendered again instead of loading the cache")

    monkeypatch.setattr(TR808Synth, "forward", no_render)
    second = _small(tmp_path)
    assert torch.equal(second.audio, first.audio) and torch.equal(second.theta, first.theta)


def test_cache_depends_on_the_configuration(tmp_path):
    a = _small(tmp_path)
    b = _small(tmp_path, noise_seed=1)
    c = _small(tmp_path, seed=10)
    assert len({a.cache_path, b.cache_path, c.cache_path}) == 3
    assert not torch.equal(a.audio, b.audio)
    assert torch.equal(a.theta, b.theta) and not torch.equal(a.theta, c.theta)
    same_split = _small(tmp_path, split_seed=4)  # the split is not part of the cache
    assert same_split.cache_path == a.cache_path and same_split.splits != a.splits


def test_corrupt_cache_is_rendered_again(tmp_path, caplog):
    data = _small(tmp_path)
    data.cache_path.write_bytes(b"truncated")
    with caplog.at_level(logging.WARNING, logger="experiments.data.tr808_synthetic"):
        again = _small(tmp_path)
    assert "rendering again" in caplog.text
    assert torch.equal(again.audio, data.audio)
    assert torch.load(again.cache_path, weights_only=True)["audio"].shape == (12, N)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(n_per_type=0), ValueError, "n_per_type"),
        (dict(types=()), ValueError, "at least one"),
        (dict(types=("kick", "clap")), ValueError, "drum type must be one of"),
        (dict(split=(20, 3, 3)), ValueError, "need 26 sounds but there are 12"),
        (dict(seed=-1), ValueError, "seed"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        _small(tmp_path, **kwargs)
