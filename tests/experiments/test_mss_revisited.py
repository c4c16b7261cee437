"""Tests of the multi-scale spectral loss revisited (experiments/losses/mss_revisited.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import torch

from experiments.losses.mss_revisited import DEFAULT_N_FFTS, MSSRevisitedLoss

DATA = Path(__file__).resolve().parents[1] / "data"

TINY = (15, 31)


def _reference(x_hat: np.ndarray, x: np.ndarray, n_ffts, p: float, eps: float) -> float:
    """Independent numpy version: reflect-pad, frame, window, rfft, compare (batch, C, N)."""

    def comp(sig: np.ndarray, n: int) -> np.ndarray:
        hop = n // 2
        padded = np.pad(sig, [(0, 0)] * (sig.ndim - 1) + [(n // 2, n // 2)], mode="reflect")
        n_frames = 1 + (padded.shape[-1] - n) // hop
        frames = np.stack([padded[..., t * hop : t * hop + n] for t in range(n_frames)], -1)
        w = scipy.signal.windows.flattop(n + 1)[:-1, None]  # periodic: one period of n + 1
        return np.log1p(np.abs(np.fft.rfft(frames * w, axis=-2)) / eps)

    per_example = np.zeros(x.shape[0])
    for n in n_ffts:
        d = (comp(x_hat, n) - comp(x, n)).reshape(x.shape[0], -1)
        per_example += (np.abs(d) ** p).sum(1) ** (1 / p)  # Frobenius norm for p = 2
    return float(per_example.mean())  # summed over scales, mean over the batch


@pytest.fixture(scope="module")
def pair() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(3, 1, 4096, generator=g), torch.randn(3, 1, 4096, generator=g)


def test_defaults():
    loss = MSSRevisitedLoss()
    assert loss.n_ffts == DEFAULT_N_FFTS == (67, 127, 257, 509, 1021, 2053)
    assert loss.hop_lengths == (33, 63, 128, 254, 510, 1026)
    assert loss.p == 2.0 and loss.eps == 1.0
    assert sum(p.numel() for p in loss.parameters()) == 0
    assert len(loss.state_dict()) == 0
    periodic = scipy.signal.windows.flattop(68)[:-1]
    np.testing.assert_allclose(loss.window_0.numpy(), periodic, rtol=1e-6, atol=1e-7)


def test_zero_positive_symmetric(pair):
    loss = MSSRevisitedLoss()
    x_hat, x = pair
    assert loss(x, x.clone()) == 0
    value = loss(x_hat, x)
    assert value.shape == () and value > 0
    torch.testing.assert_close(value, loss(x, x_hat))
    torch.testing.assert_close(loss(x_hat[:, 0], x[:, 0]), value)  # (batch, N) too


@pytest.mark.parametrize("p,eps", [(2.0, 1.0), (1.0, 1.0), (3.0, 0.1)])
def test_matches_numpy_reference(p, eps):
    g = torch.Generator().manual_seed(1)
    x_hat = torch.randn(2, 2, 200, generator=g, dtype=torch.float64)
    x = torch.randn(2, 2, 200, generator=g, dtype=torch.float64)
    loss = MSSRevisitedLoss(TINY + (67,), p=p, eps=eps).to(torch.float64)
    expected = _reference(x_hat.numpy(), x.numpy(), TINY + (67,), p, eps)
    # The windows are built in float32 (then cast), hence ~1e-9 relative differences.
    assert loss(x_hat, x).item() == pytest.approx(expected, rel=1e-6)


def test_independent_of_batch_size(pair):
    loss = MSSRevisitedLoss()
    x_hat, x = pair
    per_example = torch.stack([loss(x_hat[i : i + 1], x[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(loss(x_hat, x), per_example.mean())
    torch.testing.assert_close(
        loss(x_hat[:1].repeat(4, 1, 1), x[:1].repeat(4, 1, 1)), per_example[0]
    )


def test_gradcheck_tiny_float64():
    loss = MSSRevisitedLoss(TINY).to(torch.float64)
    g = torch.Generator().manual_seed(2)
    x_hat = torch.randn(2, 1, 40, generator=g, dtype=torch.float64, requires_grad=True)
    x = torch.randn(2, 1, 40, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(loss, (x_hat, x), eps=1e-6, atol=1e-6, rtol=1e-4)


def test_grad_finite_at_identity_and_silence():
    loss = MSSRevisitedLoss(TINY)
    x = torch.randn(1, 1, 64)
    a = x.clone().requires_grad_(True)
    loss(a, x).backward()
    assert torch.isfinite(a.grad).all()
    b = torch.zeros(1, 1, 64, requires_grad=True)
    loss(b, x).backward()
    assert torch.isfinite(b.grad).all()


@pytest.mark.parametrize(
    "kwargs,exc,name",
    [
        ({"n_ffts": ()}, ValueError, "n_ffts"),
        ({"n_ffts": (1,)}, ValueError, "n_ffts"),
        ({"n_ffts": (15.0,)}, TypeError, "n_ffts"),
        ({"n_ffts": (True,)}, TypeError, "n_ffts"),
        ({"n_ffts": 15}, TypeError, "n_ffts"),
        ({"p": 0.5}, ValueError, "p"),
        ({"p": float("inf")}, ValueError, "p"),
        ({"eps": 0.0}, ValueError, "eps"),
        ({"eps": "1"}, TypeError, "eps"),
    ],
)
def test_bad_args(kwargs, exc, name):
    with pytest.raises(exc, match=f"^{name} "):
        MSSRevisitedLoss(**kwargs)


def test_even_sizes_accepted():
    loss = MSSRevisitedLoss((16, 32))
    x = torch.randn(2, 100)
    assert loss(x, torch.randn(2, 100)) > 0


def test_bad_inputs():
    loss = MSSRevisitedLoss(TINY)
    x = torch.randn(2, 1, 64)
    with pytest.raises(ValueError, match="max\\(n_ffts\\)"):
        loss(x[..., :30], x[..., :30])
    with pytest.raises(ValueError, match="same shape"):
        loss(x, x[:1])
    with pytest.raises(ValueError, match="x_hat"):
        loss(x[0, 0], x[0, 0])
    with pytest.raises(TypeError, match="x_hat"):
        loss(x.double(), x)
    with pytest.raises(TypeError, match="x"):
        loss(x, x.long())
    with pytest.raises(TypeError, match="x_hat"):
        loss(x.numpy(), x)


def test_gradient_is_finite_where_bins_underflow() -> None:
    """A real pair that gave NaN gradients with torch's |z|: a chirplet reconstruction
    (chirplet_am_hi_fm_hi, preset=tiny, after the encoder's first forward) that is exact
    silence plus denormal samples down to 1.4e-45 under its Gaussian window, and its target."""
    pair = torch.load(DATA / "mss_revisited_underflow_pair.pt", weights_only=True)
    x_hat = pair["x_hat"].clone().requires_grad_(True)
    assert (x_hat == 0).any() and x_hat.abs()[x_hat != 0].min() < 1e-44
    MSSRevisitedLoss()(x_hat, pair["x"]).backward()
    assert torch.isfinite(x_hat.grad).all()
