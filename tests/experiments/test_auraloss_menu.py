"""The auraloss baselines of the sound-matching menu, as configured in configs/loss/.

* ``mss_linear`` (the paper's set-up): L1 of *linear* magnitudes only, FFT = window 64 ... 2048,
  hop = FFT / 4, mean over resolutions; ``mss_log_linear`` adds the L1 of log magnitudes
  (Engel et al., DDSP); ``mss_sc_log`` is auraloss' default (spectral convergence + log).
  The first two are checked against an independent computation with ``torch.stft``.
* ``RandomResolutionSTFTLoss`` draws FFT sizes ``2 ** randint(log2(min_fft_size),
  log2(max_fft_size))`` from numpy's *global* RNG (the float upper end truncated, exclusive)
  and raises unless ``N > max_fft_size``: the published ``max_fft_size=32767`` works at
  N = 32768 and draws FFT sizes up to 2**13 = 8192.
"""

from __future__ import annotations

import auraloss
import hydra
import numpy as np
import pytest
import torch
from conftest import CONFIG_DIR
from omegaconf import OmegaConf

FFTS = [64, 128, 256, 512, 1024, 2048]


def _loss(name: str) -> torch.nn.Module:
    node = OmegaConf.load(CONFIG_DIR / "loss" / f"{name}.yaml").loss
    return hydra.utils.instantiate(node)


@pytest.fixture
def numpy_seed():
    """Seed numpy's global RNG (used by RandomResolutionSTFTLoss) and restore it after."""
    state = np.random.get_state()  # noqa: NPY002
    np.random.seed(0)  # noqa: NPY002
    yield
    np.random.set_state(state)  # noqa: NPY002


def _audio(n: int, batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = 0.5 * torch.randn(batch, 1, n, generator=g)
    x_hat = 0.5 * torch.randn(batch, 1, n, generator=g)
    return x_hat.requires_grad_(True), x


def _mag(x: torch.Tensor, n: int) -> torch.Tensor:
    window = torch.hann_window(n)
    spec = torch.stft(x.reshape(-1, x.shape[-1]), n, n // 4, n, window, return_complex=True)
    return spec.abs().clamp(min=1e-4)  # auraloss' eps = 1e-8 on |X|^2


def _check(loss: torch.nn.Module, n: int) -> None:
    x_hat, x = _audio(n)
    value = loss(x_hat, x)
    assert value.shape == () and torch.isfinite(value) and value > 0
    (grad,) = torch.autograd.grad(value, x_hat)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    assert loss(x.clone(), x).item() == 0.0


def test_mss_linear_is_l1_of_linear_magnitudes():
    loss = _loss("mss_linear")
    assert [s.fft_size for s in loss.stft_losses] == FFTS
    assert [s.hop_size for s in loss.stft_losses] == [n // 4 for n in FFTS]
    assert [s.win_length for s in loss.stft_losses] == FFTS
    x_hat, x = _audio(8192)
    expected = np.mean([(_mag(x_hat, n) - _mag(x, n)).abs().mean().item() for n in FFTS])
    assert loss(x_hat, x).item() == pytest.approx(expected, rel=1e-5)
    _check(loss, 8192)


def test_mss_log_linear_adds_the_log_magnitudes():
    loss = _loss("mss_log_linear")
    x_hat, x = _audio(8192, seed=1)
    per_res = [
        (_mag(x_hat, n) - _mag(x, n)).abs().mean()
        + (_mag(x_hat, n).log() - _mag(x, n).log()).abs().mean()
        for n in FFTS
    ]
    assert loss(x_hat, x).item() == pytest.approx(torch.stack(per_res).mean().item(), rel=1e-5)
    _check(loss, 8192)


def test_mss_sc_log_is_auralosss_default():
    loss, default = _loss("mss_sc_log"), auraloss.freq.MultiResolutionSTFTLoss()
    x_hat, x = _audio(8192, seed=2)
    assert loss(x_hat, x).item() == pytest.approx(default(x_hat, x).item(), rel=1e-6)


def test_random_resolution_rule(numpy_seed):
    x_hat, x = _audio(32768)
    with pytest.raises(ValueError, match="larger than largest FFT size"):
        auraloss.freq.RandomResolutionSTFTLoss(max_fft_size=32768)(x_hat, x)
    _check(auraloss.freq.RandomResolutionSTFTLoss(max_fft_size=32767), 32768)
    _check(auraloss.freq.RandomResolutionSTFTLoss(max_fft_size=8191), 8192)


def test_random_resolution_draws_below_max(numpy_seed):
    loss = auraloss.freq.RandomResolutionSTFTLoss(max_fft_size=32767)
    sizes = set()
    for _ in range(200):
        loss.randomize_losses()
        sizes |= {s.fft_size for s in loss.stft_losses}
        assert all(s.win_length <= s.fft_size for s in loss.stft_losses)
    assert max(sizes) == 8192 and min(sizes) == 16


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
