"""Checks that the auraloss baselines of the sound-matching menu work on our audio shape.

Set-ups (auraloss 0.4.0), on ``(batch, 1, N)`` float32 audio:

(a) ``MultiResolutionSTFTLoss()``: FFT 1024/2048/512, hop 120/240/50, window 600/1200/240,
    spectral convergence + log magnitude (L1).
(b) "log + linear" magnitude MSS of Engel et al. (DDSP, ICLR 2020): FFT = window 2048 ... 64,
    hop = FFT / 4, ``w_sc=0, w_log_mag=1, w_lin_mag=1``.
(c) ``RandomResolutionSTFTLoss``: FFT sizes are drawn as ``2 ** randint(log2(min_fft_size),
    log2(max_fft_size))`` (upper end exclusive, so at most ``max_fft_size / 2``) from numpy's
    *global* RNG, and the forward pass raises unless ``N > max_fft_size``. Hence
    ``max_fft_size=32768`` fails even at N = 32768; use ``max_fft_size=N // 2`` (16384 at
    N = 32768, 4096 at N = 8192), which allows FFT sizes up to ``N / 4``.
"""

from __future__ import annotations

import auraloss
import numpy as np
import pytest
import torch

LOG_LIN = dict(
    fft_sizes=[2048, 1024, 512, 256, 128, 64],
    hop_sizes=[512, 256, 128, 64, 32, 16],
    win_lengths=[2048, 1024, 512, 256, 128, 64],
    w_sc=0.0,
    w_log_mag=1.0,
    w_lin_mag=1.0,
)


@pytest.fixture
def numpy_seed():
    """Seed numpy's global RNG (used by RandomResolutionSTFTLoss) and restore it after."""
    # The legacy global-RNG API is what auraloss draws from, so it is the one to seed.
    state = np.random.get_state()  # noqa: NPY002
    np.random.seed(0)  # noqa: NPY002
    yield
    np.random.set_state(state)  # noqa: NPY002


def _audio(n: int, batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = 0.5 * torch.randn(batch, 1, n, generator=g)
    x_hat = 0.5 * torch.randn(batch, 1, n, generator=g)
    return x_hat.requires_grad_(True), x


def _check(loss: torch.nn.Module, n: int) -> None:
    x_hat, x = _audio(n)
    value = loss(x_hat, x)
    assert value.shape == () and torch.isfinite(value) and value > 0
    (grad,) = torch.autograd.grad(value, x_hat)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    same = x.clone().requires_grad_(True)
    zero = loss(same, x)
    assert zero.item() == 0.0
    (grad0,) = torch.autograd.grad(zero, same)
    assert torch.isfinite(grad0).all()  # 0 here: L1 and the SC norm have zero subgradient


def test_mrstft_defaults():
    loss = auraloss.freq.MultiResolutionSTFTLoss()
    assert [s.fft_size for s in loss.stft_losses] == [1024, 2048, 512]
    assert [s.hop_size for s in loss.stft_losses] == [120, 240, 50]
    assert [s.win_length for s in loss.stft_losses] == [600, 1200, 240]
    _check(loss, 8192)


def test_log_lin_engel():
    _check(auraloss.freq.MultiResolutionSTFTLoss(**LOG_LIN), 8192)


def test_random_resolution_rule(numpy_seed):
    # max_fft_size must be < N: the paper-style 32768 fails at N = 32768 ...
    x_hat, x = _audio(32768)
    with pytest.raises(ValueError, match="larger than largest FFT size"):
        auraloss.freq.RandomResolutionSTFTLoss(max_fft_size=32768)(x_hat, x)
    # ... and max_fft_size = N // 2 works, at both lengths.
    _check(auraloss.freq.RandomResolutionSTFTLoss(max_fft_size=16384), 32768)
    _check(auraloss.freq.RandomResolutionSTFTLoss(max_fft_size=4096), 8192)
    with pytest.raises(ValueError, match="larger than largest FFT size"):
        auraloss.freq.RandomResolutionSTFTLoss(max_fft_size=8192)(*_audio(8192))


def test_random_resolution_draws_at_most_half_max(numpy_seed):
    loss = auraloss.freq.RandomResolutionSTFTLoss(max_fft_size=4096)
    sizes = set()
    for _ in range(100):
        loss.randomize_losses()
        sizes |= {s.fft_size for s in loss.stft_losses}
        assert all(s.win_length <= s.fft_size for s in loss.stft_losses)
    assert max(sizes) == 2048 and min(sizes) == 16


def test_surprises():
    loss = auraloss.freq.MultiResolutionSTFTLoss()
    x_hat, x = _audio(8192)
    # Inputs must be 3-D (batch, channels, N): (batch, N) fails while unpacking the shape.
    with pytest.raises(ValueError):
        loss(x_hat[:, 0], x[:, 0])
    # eps clamps |X|^2 at 1e-8 (|X| >= 1e-4), so a silent target gives a huge but finite
    # spectral-convergence term rather than inf/NaN.
    silent = loss(x_hat, torch.zeros_like(x))
    assert torch.isfinite(silent) and silent > 1e3
