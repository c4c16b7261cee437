"""Tests of the diagnostic figures (experiments/plots.py): content, axes, validation, saving."""

from __future__ import annotations

import math
import os

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from experiments.plots import (
    log_frequency_rows,
    path_counts_array,
    path_figure,
    save_figure,
    spectrogram_figure,
)

SR, N = 8000, 4000


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def _tones(freqs: list[float]) -> torch.Tensor:
    t = torch.arange(N) / SR
    return torch.stack([0.5 * torch.sin(2 * math.pi * f * t) for f in freqs]).unsqueeze(1)


def _image_axes(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.images]


def _tables(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes if not ax.images for t in ax.texts]


def test_spectrogram_layout_axes_titles_and_theta_tables() -> None:
    x, x_hat = _tones([500.0, 1000.0]), _tones([750.0, 2000.0])
    theta = torch.tensor([[0.1, 0.2], [0.3, 0.4]])
    theta_hat = torch.tensor([[0.15, 0.25], [0.35, 0.45]])
    fig = spectrogram_figure(x, x_hat, SR, theta, theta_hat, ["density", "slope"], 256, 64,
                             names=["a/kick.wav", "snare.flac"])  # fmt: skip
    assert isinstance(fig, Figure)
    axes = _image_axes(fig)
    assert len(axes) == 4  # rows = examples, columns = target / reconstruction
    assert len(fig.axes) == 7  # plus the shared colour bar and a θ table per row
    rows = log_frequency_rows(SR, 256)
    for ax in axes:
        assert ax.get_xlim() == pytest.approx((0.0, N / SR))
        low, high = ax.get_ylim()  # log2(Hz), half a row beyond the first and last rows
        assert 2**low < rows[0] < 2**high and rows[-1] <= SR / 2 < 2 ** (high + 0.1)
        assert ax.images[0].get_array().shape == (rows.size, 1 + N // 64)
    # 24 rows per octave from max(20 Hz, one bin) up to sr / 2.
    assert rows[0] == pytest.approx(max(20.0, SR / 256))
    assert np.diff(np.log2(rows)) == pytest.approx(np.full(rows.size - 1, 1 / 24))
    # The 2x2 grid is built row by row: [ex0 target, ex0 recon, ex1 target, ex1 recon],
    # titled by the examples' names on one line each.
    titles = [ax.get_title(loc="left") for ax in axes]
    assert titles == ["a/kick.wav: target", "a/kick.wav: reconstruction",
                      "snare.flac: target", "snare.flac: reconstruction"]  # fmt: skip
    tables = _tables(fig)
    assert len(tables) == 2
    assert tables[0].splitlines()[1:] == ["density  0.100  0.150", "slope    0.200  0.250"]
    assert tables[1].splitlines()[2] == "slope    0.400  0.450"
    assert axes[0].get_ylabel() == "frequency (Hz)" and axes[2].get_xlabel() == "time (s)"
    labels = [t.get_text() for t in axes[0].get_yticklabels()]
    assert labels[:2] == ["50", "100"] and "1k" in labels  # ticks in Hz on the log axis
    # One dB scale for all panels.
    assert len({ax.images[0].get_clim() for ax in axes}) == 1


def test_spectrogram_peak_frequency_in_hz() -> None:
    freqs = [500.0, 1250.0]
    fig = spectrogram_figure(_tones(freqs), _tones(freqs[::-1]), SR, n_fft=512, hop=128)
    axes = _image_axes(fig)
    rows = log_frequency_rows(SR, 512)
    for ax, f in zip(axes, [500.0, 1250.0, 1250.0, 500.0], strict=True):
        spec = np.asarray(ax.images[0].get_array())
        peak_row = int(spec[:, spec.shape[1] // 2].argmax())
        # The peak row lies within one STFT bin of the tone (rows interpolate between bins).
        assert rows[peak_row] == pytest.approx(f, abs=SR / 512)
        # A full-scale 0.5-amplitude tone through a Hann window: top of scale is the peak.
        vmin, vmax = ax.images[0].get_clim()
        assert vmax - vmin == pytest.approx(80.0)
        assert spec.max() == pytest.approx(vmax, abs=0.5)


def test_spectrogram_accepts_2d_short_silent_and_nan() -> None:
    # (n, N) input, N shorter than n_fft, all-zero target, NaN reconstruction: no error.
    x = torch.zeros(1, 100)
    x_hat = torch.full((1, 100), float("nan"))
    fig = spectrogram_figure(x, x_hat, 8000.0)
    assert len(_image_axes(fig)) == 2
    vmin, vmax = _image_axes(fig)[0].images[0].get_clim()
    assert np.isfinite([vmin, vmax]).all()


def test_spectrogram_default_theta_names_and_partial_theta() -> None:
    x = torch.randn(1, 1, 1000) * 0.1
    fig = spectrogram_figure(x, x, SR, theta_hat=torch.tensor([[0.5, 0.25, 1.0]]))
    target, recon = (ax.get_title(loc="left") for ax in _image_axes(fig))
    assert (target, recon) == ("example 0: target", "example 0: reconstruction")
    (table,) = _tables(fig)
    assert table.splitlines()[0].split() == ["θ̂"]  # no θ column without theta
    assert table.splitlines()[1].split() == ["θ0", "0.500"]
    assert table.splitlines()[3].split() == ["θ2", "1.000"]


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(x_hat=torch.zeros(2, 1, 999)), ValueError, "same shape"),
        (dict(x=torch.zeros(2, 2, 1000), x_hat=torch.zeros(2, 2, 1000)), ValueError, "mono"),
        (dict(x=torch.zeros(1000), x_hat=torch.zeros(1000)), ValueError, "shape"),
        (dict(x=torch.zeros(2, 1, 1000, dtype=torch.int32)), TypeError, "floating"),
        (dict(x=np.zeros((2, 1000))), TypeError, "torch.Tensor"),
        (dict(sr=0.0), ValueError, "sr"),
        (dict(n_fft=1), ValueError, "n_fft"),
        (dict(n_fft=True), TypeError, "n_fft"),
        (dict(hop=0), ValueError, "hop"),
        (dict(theta=torch.zeros(3, 2)), ValueError, "theta"),
        (dict(theta=torch.zeros(2, 2), theta_hat=torch.zeros(2, 3)), ValueError, "n_theta"),
        (dict(theta=torch.zeros(2, 2), theta_names=["a"]), ValueError, "theta_names"),
        (dict(theta_names="ab"), TypeError, "theta_names"),
        (dict(theta_names=["a", 1]), TypeError, "theta_names"),
        (dict(names=["a"]), ValueError, "names has 1 entries, expected 2"),
        (dict(names="ab"), TypeError, "names must be a list of str"),
    ],
)
def test_spectrogram_rejects_bad_arguments(kwargs, exc, match) -> None:
    args = dict(x=torch.zeros(2, 1, 1000), x_hat=torch.zeros(2, 1, 1000), sr=SR)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        spectrogram_figure(**args)


def test_path_figure_content() -> None:
    n = 7
    probs = torch.softmax(torch.randn(n, dtype=torch.float64), 0)
    counts = {0: 3, 4: 10, 6: 1}
    fig = path_figure(probs, counts, n)
    assert isinstance(fig, Figure)
    ax_p, ax_c = fig.axes
    p_values, edges, _ = ax_p.patches[0].get_data()
    np.testing.assert_allclose(p_values, probs.numpy())
    np.testing.assert_array_equal(edges, np.arange(n + 1) - 0.5)
    (uniform,) = ax_p.get_lines()
    np.testing.assert_allclose(uniform.get_ydata(), [1 / n, 1 / n])
    c_values = ax_c.patches[0].get_data()[0]
    np.testing.assert_array_equal(c_values, [3, 0, 0, 0, 10, 0, 1])
    assert ax_c.get_xlabel() == "path index"
    assert "total 14 steps" in ax_c.get_title() and "4 of 7 paths unvisited" in ax_c.get_title()


def test_path_counts_array_forms() -> None:
    np.testing.assert_array_equal(path_counts_array({}, 3), [0, 0, 0])
    np.testing.assert_array_equal(path_counts_array({2: 5}, 3), [0, 0, 5])
    tensor_counts = torch.tensor([1.0, 0.0, 2.0])
    np.testing.assert_array_equal(path_counts_array(tensor_counts, 3), [1, 0, 2])
    out = path_counts_array(torch.tensor([4, 5], dtype=torch.int64), 2)
    assert out.dtype == np.int64


@pytest.mark.parametrize(
    "probs,counts,n_paths,exc,match",
    [
        (torch.full((3,), 1 / 3), {3: 1}, 3, ValueError, "path index 3"),
        (torch.full((3,), 1 / 3), {-1: 1}, 3, ValueError, "path index"),
        (torch.full((3,), 1 / 3), {0: -2}, 3, ValueError, "counts"),
        (torch.full((3,), 1 / 3), {0: 1.5}, 3, TypeError, "counts"),
        (torch.full((3,), 1 / 3), torch.tensor([1.0, 0.5, 0.0]), 3, ValueError, "whole"),
        (torch.full((3,), 1 / 3), torch.tensor([1, -1, 0]), 3, ValueError, ">= 0"),
        (torch.full((3,), 1 / 3), torch.zeros(4), 3, ValueError, "counts"),
        (torch.full((3,), 1 / 3), [1, 2, 3], 3, TypeError, "counts"),
        (torch.full((4,), 0.25), {}, 3, ValueError, "probs"),
        (torch.tensor([0.5, 0.6, -0.1]), {}, 3, ValueError, "probs"),
        ([0.5, 0.5], {}, 2, TypeError, "probs"),
        (torch.full((3,), 1 / 3), {}, 0, ValueError, "n_paths"),
    ],
)
def test_path_figure_rejects_bad_arguments(probs, counts, n_paths, exc, match) -> None:
    with pytest.raises(exc, match=match):
        path_figure(probs, counts, n_paths)


def test_save_figure_png_and_pdf(tmp_path) -> None:
    fig = path_figure(torch.tensor([0.25, 0.75]), {1: 2}, 2)
    png = tmp_path / "out" / "p.png"
    save_figure(fig, png)
    image = mpimg.imread(png)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    save_figure(fig, str(tmp_path / "p.PDF"))
    assert (tmp_path / "p.PDF").read_bytes().startswith(b"%PDF")
    assert sorted(os.listdir(tmp_path)) == ["out", "p.PDF"]
    assert os.listdir(tmp_path / "out") == ["p.png"]


def test_save_figure_rejects_bad_suffix_and_types(tmp_path) -> None:
    fig = Figure()
    with pytest.raises(ValueError, match="suffix"):
        save_figure(fig, tmp_path / "noext")
    with pytest.raises(ValueError, match="suffix"):
        save_figure(fig, tmp_path / "x.wav")
    with pytest.raises(TypeError, match="fig"):
        save_figure(object(), tmp_path / "x.png")
    with pytest.raises(TypeError, match="path"):
        save_figure(fig, 3)
    assert os.listdir(tmp_path) == []


def test_no_pyplot_state() -> None:
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    spectrogram_figure(torch.zeros(1, 1, 256), torch.zeros(1, 1, 256), SR)
    path_figure(torch.tensor([1.0]), {0: 1}, 1)
    assert plt.get_fignums() == before
