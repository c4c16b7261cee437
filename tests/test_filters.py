"""Filter design: properties, and agreement with kymatio 0.3's 1-D filter bank (an
independent implementation of the same design rules)."""

import math

import numpy as np
import pytest
from kymatio.scattering1d import filter_bank as kfb

from scrapl.transforms.jtfs.filters import build_filterbank
from scrapl.transforms.morlet import (
    decimated_convolution_matrix,
    max_dyadic_subsampling,
    morlet_fourier,
    padded_length,
    periodise,
    wavelet_params,
)


@pytest.mark.parametrize("J,Q", [(3, 1), (6, 4), (8, 2), (12, 8), (10, 6)])
def test_wavelet_params_match_kymatio(J, Q):
    xis, sigmas, js = kfb.compute_params_filterbank(0.1 / 2**J, Q, 5.0)
    ours = wavelet_params(J, Q)
    np.testing.assert_allclose([xi for xi, _ in ours], xis, rtol=1e-12)
    np.testing.assert_allclose([s for _, s in ours], sigmas, rtol=1e-12)
    assert [max_dyadic_subsampling(xi, s) for xi, s in ours] == js


@pytest.mark.parametrize("xi,sigma", [(0.35, 0.1), (0.02, 0.004), (0.0, 0.01), (0.0, 1e-4)])
def test_morlet_matches_kymatio(xi, sigma):
    np.testing.assert_allclose(
        morlet_fourier(1024, xi, sigma), kfb.morlet_1d(1024, xi or None, sigma), atol=1e-12
    )


@pytest.mark.parametrize("xi,sigma", [(0.3, 0.05), (0.05, 0.01), (-0.2, 0.03)])
def test_wavelet_has_zero_mean_unit_l1_and_peaks_at_xi(xi, sigma):
    n = 2048
    psi = morlet_fourier(n, xi, sigma)
    assert abs(psi[0]) < 1e-12  # zero mean in time
    assert np.abs(np.fft.ifft(psi)).sum() == pytest.approx(1.0, rel=1e-12)
    freqs = np.fft.fftfreq(n)
    assert abs(freqs[np.argmax(psi)] - xi) <= 1.0 / n


def test_lowpass_is_real_symmetric_and_unit_l1():
    phi = morlet_fourier(512, 0.0, 0.02)
    h = np.fft.ifft(phi)
    assert np.abs(h.imag).max() < 1e-12
    np.testing.assert_allclose(phi[1:], phi[1:][::-1], atol=1e-15)
    assert np.abs(h).sum() == pytest.approx(1.0, rel=1e-12)


def test_periodise_is_decimation_in_time():
    rng = np.random.default_rng(0)
    f = rng.standard_normal(256) + 1j * rng.standard_normal(256)
    for k in range(4):
        # Summing periods in frequency == keeping every 2**k-th sample (times 2**k) in time.
        np.testing.assert_allclose(
            np.fft.ifft(periodise(f, k)), np.fft.ifft(f)[:: 2**k] * 2**k, atol=1e-12
        )


@pytest.mark.parametrize("log2_factor", [0, 1, 3])
def test_decimated_convolution_matrix_equals_fft_filtering(log2_factor):
    rng = np.random.default_rng(1)
    n, n_in = 64, 23
    filt = morlet_fourier(n, 0.2, 0.05)
    u = np.zeros(n, complex)
    u[:n_in] = rng.standard_normal(n_in) + 1j * rng.standard_normal(n_in)
    by_fft = np.fft.ifft(np.fft.fft(u) * filt)[:: 2**log2_factor]
    mat = decimated_convolution_matrix(filt, n_in, log2_factor)
    assert mat.shape == (n_in, n // 2**log2_factor)
    np.testing.assert_allclose(u[:n_in] @ mat, by_fft, atol=1e-12)


def test_padding_is_power_of_two_and_bounded():
    for n, T in [(4096, 64), (32768, 4096), (44100, 2048), (1000, 16)]:
        n_pad = padded_length(n, T)
        assert n_pad >= n and n_pad & (n_pad - 1) == 0
        assert (n_pad - n) // 2 < n  # reflection needs a source sample
    assert padded_length(4096, 64) == 8192  # the reference implementation's padding


def test_filterbank_filters_do_not_alias_at_their_subsampling():
    bank = build_filterbank(4096, 6, 4, 1, 2, 1, 64, 4)
    for filt in bank.psi1 + bank.psi2 + bank.psi_fr[1:]:
        assert abs(filt.xi) + 5 * filt.sigma <= 0.5 / 2**filt.j or filt.j == 0
    # Frequential filters: low-pass first, then spin +1 highest first, then spin -1.
    xis = [f.xi for f in bank.psi_fr]
    k = (len(xis) - 1) // 2
    assert (
        xis[0] == 0
        and all(x > 0 for x in xis[1 : k + 1])
        and xis[k + 1 :] == [-x for x in xis[1 : k + 1]]
    )
    assert xis[1 : k + 1] == sorted(xis[1 : k + 1], reverse=True)
    assert bank.n_fr_padded % 2**2 == 0 and bank.n_fr_padded >= len(bank.psi1) + 8
    assert math.log2(bank.n_padded).is_integer()
