"""Window plans: filtering on the support of each filter equals filtering the whole spectrum
and subsampling by periodisation, up to a unit exponential that the modulus removes."""

import numpy as np
import pytest

from scrapl.transforms.morlet import morlet_fourier, periodise
from scrapl.transforms.windows import support_window, window_plan


def apply_plan(plan, half_spectra):
    """The plan on half spectra ``(rows, bins)`` (numpy): complex ``(rows, n_out)`` signals."""
    rows = np.arange(plan.src.shape[0])[:, None]
    win = half_spectra[rows, plan.src]
    win = win.real * plan.value[..., 0] + 1j * win.imag * plan.value[..., 1]
    win = win.reshape(win.shape[0], -1, plan.n_out).sum(axis=1) if plan.width > plan.n_out else win
    return np.fft.ifft(win, n=plan.n_out)


def reference(x, filt, n_out):
    """Filter the full spectrum, subsample by averaging periods (the transform's definition)."""
    log2 = int(np.log2(len(filt) // n_out))
    return np.fft.ifft(periodise(np.fft.fft(x) * filt, log2) / 2**log2)


def test_support_window_of_a_band_and_of_a_band_across_zero():
    f = np.zeros(32)
    f[5:10] = 1.0
    assert support_window(f) == (5, 5)
    g = np.zeros(32)
    g[[30, 31, 0, 1, 2]] = [0.5, 1.0, 1.0, 1.0, 0.5]
    assert support_window(g) == (-2, 5)
    h = np.zeros(32)
    h[[3, 20]] = 1.0  # two bins: the shorter run through them, 20 .. 35 = 3 (mod 32)
    assert support_window(h) == (-12, 16)


@pytest.mark.parametrize("log2_out", [0, 1, 3])
def test_per_row_windows_give_the_modulus_of_periodised_filtering(log2_out):
    n = 1024
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, n))
    # A high, a low and a near-zero wavelet (whose support crosses frequency 0).
    filters = [morlet_fourier(n, xi, xi / 6) for xi in (0.05, 0.02)]
    filters.append(morlet_fourier(n, 0.004, 0.002))
    n_out = n >> log2_out
    plan = window_plan(filters, n_out)
    assert plan.src.shape == (3, plan.width) and plan.width <= n_out
    half = np.fft.rfft(x)
    for b in range(3):
        out = apply_plan(plan, np.repeat(half[b : b + 1], 3, axis=0))
        for r, filt in enumerate(filters):
            # Bins below 1e-7 of the filter's peak are left out: errors of that order.
            ref = np.abs(reference(x[b], filt, n_out))
            np.testing.assert_allclose(np.abs(out[r]), ref, rtol=0, atol=1e-6 * ref.max())


def test_shared_window_gives_the_same_exponential_on_every_row():
    n, n_out = 2048, 256
    rng = np.random.default_rng(1)
    # Rows at two resolutions (full and half rate), one wavelet periodised to each.
    psi = morlet_fourier(n, 0.03, 0.008)
    grids = [n, n, n // 2]
    filters = [periodise(psi, int(np.log2(n // m))) for m in grids]
    signals = [rng.standard_normal(m) for m in grids]
    plan = window_plan(filters, n_out, shared=True)
    halves = np.zeros((3, plan.n_src), dtype=complex)
    for r, s in enumerate(signals):
        halves[r] = np.fft.rfft(s)[: plan.n_src]
    out = apply_plan(plan, halves)
    refs = [reference(s, f, n_out) for s, f in zip(signals, filters, strict=True)]
    phase = out[0] / refs[0]
    np.testing.assert_allclose(np.abs(phase), 1.0, rtol=1e-6)
    for r in range(3):
        # One factor for all rows: any linear mix of the rows has the same modulus.
        atol = 1e-6 * np.abs(refs[r]).max()
        np.testing.assert_allclose(out[r], phase * refs[r], rtol=0, atol=atol)


def test_wide_windows_are_folded_modulo_the_output_grid():
    n, n_out = 512, 16
    filt = morlet_fourier(n, 0.1, 0.03)  # support of ~60 bins, far wider than 16
    plan = window_plan([filt], n_out)
    assert plan.width % n_out == 0 and plan.width > n_out
    x = np.random.default_rng(2).standard_normal(n)
    out = apply_plan(plan, np.fft.rfft(x)[None])
    ref = np.abs(reference(x, filt, n_out))
    np.testing.assert_allclose(np.abs(out[0]), ref, rtol=0, atol=1e-6 * ref.max())
