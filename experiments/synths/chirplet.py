"""AM/FM chirplet synthesizer of the SCRAPL chirplet sound-matching experiment.

The set-up follows Mitcheltree et al., "SCRAPL: Scattering Transform with Random Paths for
Machine Learning", ICLR 2026 (chirplet experiment), whose synthesizer is the AM/FM chirplet of
Vahidi et al., "Mesostructures: Beyond Spectrogram Loss in Differentiable Time-Frequency
Analysis", JAES 2023. One example is a single Gaussian-windowed chirplet:

.. math::

    x[n] = w(\\tau)\\, a(\\tau)\\, \\cos\\varphi(\\tau), \\qquad
    \\tau = \\frac{n - N/2 - \\delta}{f_s}\\ \\text{seconds}, \\quad n = 0, \\dots, N-1,

with (all times relative to the window centre :math:`t_c = N/(2 f_s) + \\delta / f_s`)

* FM, an exponential chirp at :math:`\\gamma` octaves/s whose instantaneous frequency is
  :math:`f(\\tau) = f_c\\, 2^{\\gamma\\tau}` (``f_c`` = carrier at the centre, 512 Hz); its phase
  is the closed-form integral
  :math:`\\varphi(\\tau) = 2\\pi f_c \\int_0^\\tau 2^{\\gamma s} ds
  = 2\\pi f_c\\, \\tau\\, E(\\gamma \\ln 2\\, \\tau)` with :math:`E(u) = (e^u - 1)/u`,
  :math:`E(0) = 1`, so :math:`\\gamma \\to 0` gives the pure tone :math:`2\\pi f_c \\tau`
  without a 0/0;
* AM, a full-depth raised cosine at :math:`f_{AM}` Hz, phase-locked to the window centre:
  :math:`a(\\tau) = (1 + \\cos(2\\pi f_{AM} \\tau)) / 2` (peak 1 at the centre, where the chirp
  is at ``f_c``; zeros at :math:`\\tau = \\pm(k + 1/2)/f_{AM}`);
* the Gaussian window :math:`w(\\tau) = \\exp(-\\tau^2 / (2\\sigma^2))` whose *effective duration*
  :math:`D` is the interval on which :math:`w \\ge \\sigma_0` (``sigma0`` = 0.1: the amplitude at
  the window's edges is 10 % of its peak). The chirp must sweep ``bw_octaves`` (2 octaves,
  :math:`f_c/2 \\to 2 f_c`) within that interval, so :math:`D = \\text{bw} / |\\gamma|`; it is
  bounded by :math:`D_{max} = (N - 2\\,\\text{max\\_shift}) / f_s` so that the whole
  :math:`w \\ge \\sigma_0` interval stays inside the signal for every admissible shift (this bound
  is active only for the smallest chirp rates, e.g. :math:`\\gamma < 0.571` oct/s with the
  paper's numbers, and also gives the :math:`\\gamma \\to 0` limit). Hence

  .. math::

      D = \\min\\left(\\frac{\\text{bw}}{|\\gamma|}, D_{max}\\right), \\qquad
      \\sigma = \\frac{D / 2}{\\sqrt{2 \\ln(1/\\sigma_0)}}
      \\quad (\\approx 0.233\\, D \\text{ for } \\sigma_0 = 0.1).

  Because the sweep stays within ``bw/2`` octaves of ``f_c`` wherever :math:`w \\ge \\sigma_0`,
  and ``f_c 2^{bw/2}`` is checked to lie below Nyquist, aliasing only affects samples where the
  window is negligible (below ~1e-9 with the default constants).

The random time shift :math:`\\delta`, an integer uniform in ``[-max_shift, max_shift]`` samples,
is the only randomness; it is drawn by :func:`draw_shift` from an explicit per-example seed
(never from the global RNG), so target and reconstruction can be rendered with different seeds
(misaligned in time, the "meso" setting) while staying reproducible.

DDSP split: :meth:`ChirpletSynth.controls` maps :math:`\\theta \\in [0,1]^2` to physical controls
(log scale), and :func:`chirplet` is a pure, batched, differentiable synthesis function.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from experiments.synths.common import SeedLike, check_theta, example_generators, expm1_over_x
from scrapl.validation import check_int, check_positive

__all__ = ["ChirpletSynth", "chirplet", "draw_shift", "log_scale", "window_sigma"]


def log_scale(theta: Tensor, lo: float, hi: float) -> Tensor:
    """Maps ``theta`` in [0, 1] log-linearly onto [lo, hi]: ``lo * (hi / lo) ** theta``.

    ``theta = 0 -> lo``, ``theta = 1 -> hi``, ``theta = 0.5 -> sqrt(lo * hi)``.
    """
    return lo * torch.exp(theta * math.log(hi / lo))


def window_sigma(
    fm_oct_per_s: Tensor,
    bw_octaves: float,
    sigma0: float,
    max_duration: float,
) -> Tensor:
    """Standard deviation (seconds) of the chirplet's Gaussian window.

    ``D = min(bw_octaves / |gamma|, max_duration)`` is the effective duration (where the window
    is at least ``sigma0`` of its peak) and ``sigma = (D / 2) / sqrt(2 ln(1 / sigma0))``.
    Written with a clamp on ``|gamma|`` rather than a ``min`` so that ``gamma = 0`` gives
    ``D = max_duration`` with a finite (zero) gradient instead of ``0 * inf``.
    """
    gamma_floor = bw_octaves / max_duration
    duration = bw_octaves / fm_oct_per_s.abs().clamp(min=gamma_floor)
    return duration / (2.0 * math.sqrt(2.0 * math.log(1.0 / sigma0)))


def chirplet(
    am_hz: Tensor,
    fm_oct_per_s: Tensor,
    shift_samples: Tensor,
    sr: float = 8192,
    n_samples: int = 32768,
    f_c: float = 512.0,
    bw_octaves: float = 2.0,
    sigma0: float = 0.1,
    *,
    max_duration: float | None = None,
    sample_index: Tensor | None = None,
) -> Tensor:
    """Pure, batched, differentiable AM/FM chirplet synthesis (see the module docstring).

    Args:
        am_hz: ``(batch,)`` amplitude-modulation rate f_AM in Hz (>= 0).
        fm_oct_per_s: ``(batch,)`` chirp rate gamma in octaves per second (any real value;
            negative sweeps downwards, 0 is a pure tone at ``f_c``).
        shift_samples: ``(batch,)`` time shift delta of the window centre in samples (may be
            fractional); the centre is at sample ``n_samples / 2 + delta``.
        sr: sample rate in Hz.
        n_samples: signal length N in samples.
        f_c: carrier frequency in Hz at the window centre.
        bw_octaves: bandwidth in octaves swept within the window's effective duration.
        sigma0: relative window amplitude at the edges of the effective duration, in (0, 1).
        max_duration: upper bound on the effective duration in seconds; defaults to
            ``n_samples / sr``. :class:`ChirpletSynth` passes ``(n_samples - 2 max_shift) / sr``.
        sample_index: optional ``(n_samples,)`` tensor ``0, 1, ..., N-1`` (a cached buffer);
            built on the fly if omitted.

    Returns:
        ``(batch, n_samples)`` signal with peak amplitude <= 1, in the dtype/device of ``am_hz``.
    """
    if max_duration is None:
        max_duration = n_samples / sr
    dtype, device = am_hz.dtype, am_hz.device
    if sample_index is None:
        sample_index = torch.arange(n_samples, dtype=dtype, device=device)
    else:
        sample_index = sample_index.to(dtype=dtype, device=device)
    am = am_hz.reshape(-1, 1)
    gamma = fm_oct_per_s.to(dtype).reshape(-1, 1)
    shift = shift_samples.to(dtype=dtype, device=device).reshape(-1, 1)

    tau = (sample_index.reshape(1, -1) - (n_samples / 2.0) - shift) / sr  # (batch, N) seconds
    # Phase: 2 pi f_c tau E(gamma ln2 tau). The exponent is clamped far outside the window
    # (|u| = 50 is > 70 octaves away) so that huge rates cannot overflow into inf/NaN.
    u = (gamma * math.log(2.0) * tau).clamp(-50.0, 50.0)
    phase = (2.0 * math.pi * f_c) * tau * expm1_over_x(u)
    envelope_am = 0.5 * (1.0 + torch.cos((2.0 * math.pi) * am * tau))
    sigma = window_sigma(gamma, bw_octaves, sigma0, max_duration)
    window = torch.exp(-0.5 * (tau / sigma) ** 2)
    return window * envelope_am * torch.cos(phase)


def draw_shift(seed: SeedLike, batch: int, max_shift: int) -> Tensor:
    """Draws the integer time shifts delta ~ U{-max_shift, ..., max_shift} (samples).

    Each example has its own ``torch.Generator`` (see
    :func:`~experiments.synths.common.example_generators`: an int ``s`` gives example ``i``
    the seed ``s + i``, a ``(batch,)`` integer tensor or a sequence of ints gives it
    ``seed[i]``); the global RNG is never touched.

    Returns:
        ``(batch,)`` int64 CPU tensor of shifts in samples.
    """
    max_shift = check_int("max_shift", max_shift, 0)
    gens = example_generators(seed, batch)
    shifts = torch.empty(len(gens), dtype=torch.int64)
    for i, gen in enumerate(gens):
        shifts[i] = torch.randint(-max_shift, max_shift + 1, (1,), generator=gen)[0]
    return shifts


def _range(value: Any, name: str) -> tuple[float, float]:
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) != 2:
        raise TypeError(f"{name} must be a (min, max) pair, got {value!r}")
    lo = check_positive(f"{name}[0]", value[0])
    hi = check_positive(f"{name}[1]", value[1])
    if not lo < hi:
        raise ValueError(f"{name} must satisfy 0 < min < max, got {value!r}")
    return lo, hi


class ChirpletSynth(torch.nn.Module):
    """AM/FM chirplet synth of the SCRAPL chirplet experiment (Mitcheltree et al., ICLR 2026;
    chirplet of Vahidi et al. 2023, "Mesostructures").

    ``theta = (theta_AM, theta_FM)`` in ``[0, 1]^2`` is mapped log-linearly to
    ``f_AM`` in ``am_range`` Hz and ``gamma`` in ``fm_range`` octaves/s; the paper's four
    configurations are AM 0.99-1.98 Hz ("lo") or 2.8-8.4 Hz ("hi") with FM 0.5-1, 2-4 or
    4-12 oct/s (lo/0.5-1, lo/2-4, hi/2-4, hi/4-12).

    Args:
        sr: sample rate in Hz.
        n_samples: signal length N in samples.
        f_c: carrier frequency in Hz at the window centre.
        bw_octaves: bandwidth in octaves swept within the window's effective duration;
            ``f_c * 2 ** (bw_octaves / 2)`` must lie below ``sr / 2``.
        am_range: ``(min, max)`` AM rate in Hz, ``0 < min < max``.
        fm_range: ``(min, max)`` chirp rate in octaves/s, ``0 < min < max``.
        max_shift: maximum |time shift| in samples, ``0 <= max_shift < n_samples / 2``.
        sigma0: relative window amplitude at the edges of the effective duration, in (0, 1).

    Buffers: ``sample_index`` ``(n_samples,)`` = ``0, ..., N-1`` (the time axis).
    """

    sample_index: Tensor

    def __init__(
        self,
        sr: int = 8192,
        n_samples: int = 32768,
        f_c: float = 512.0,
        bw_octaves: float = 2.0,
        am_range: tuple[float, float] = (0.99, 1.98),
        fm_range: tuple[float, float] = (0.5, 1.0),
        max_shift: int = 2048,
        sigma0: float = 0.1,
    ) -> None:
        super().__init__()
        self.sr = check_positive("sr", sr)
        self.n_samples = check_int("n_samples", n_samples, 2)
        self.f_c = check_positive("f_c", f_c)
        self.bw_octaves = check_positive("bw_octaves", bw_octaves)
        if self.f_c * 2.0 ** (self.bw_octaves / 2.0) >= self.sr / 2.0:
            raise ValueError(
                f"f_c * 2 ** (bw_octaves / 2) must be below Nyquist (sr / 2 = {self.sr / 2}), "
                f"got f_c={self.f_c}, bw_octaves={self.bw_octaves}"
            )
        self.am_range = _range(am_range, "am_range")
        self.fm_range = _range(fm_range, "fm_range")
        self.max_shift = check_int("max_shift", max_shift, 0)
        if not self.max_shift < self.n_samples / 2:
            raise ValueError(f"max_shift must be in [0, n_samples / 2), got {max_shift}")
        sigma0 = check_positive("sigma0", sigma0)
        if not sigma0 < 1.0:
            raise ValueError(f"sigma0 must be in (0, 1), got {sigma0}")
        self.sigma0 = sigma0
        # Longest effective duration keeping the w >= sigma0 interval inside the signal.
        self.max_duration = (self.n_samples - 2 * self.max_shift) / self.sr
        self.register_buffer(
            "sample_index", torch.arange(self.n_samples, dtype=torch.float32), persistent=False
        )

    def extra_repr(self) -> str:
        return (
            f"sr={self.sr:g}, n_samples={self.n_samples}, f_c={self.f_c:g}, "
            f"bw_octaves={self.bw_octaves:g}, am_range={self.am_range}, "
            f"fm_range={self.fm_range}, max_shift={self.max_shift}, sigma0={self.sigma0:g}"
        )

    def controls(self, theta: Tensor) -> dict[str, Tensor]:
        """Maps ``theta`` ``(batch, 2)`` in [0, 1] to physical controls (log scale).

        Returns:
            ``{"am_hz": (batch,) Hz, "fm_oct_per_s": (batch,) octaves/s}``.
        """
        check_theta(theta, 2)
        return {
            "am_hz": log_scale(theta[:, 0], *self.am_range),
            "fm_oct_per_s": log_scale(theta[:, 1], *self.fm_range),
        }

    def forward(self, theta: Tensor, seed: SeedLike) -> Tensor:
        """Renders one chirplet per example.

        Args:
            theta: ``(batch, 2)`` in [0, 1]: ``(theta_AM, theta_FM)``.
            seed: int (expanded to ``seed + i`` for example ``i``), ``(batch,)`` int64
                tensor or sequence of ints, one seed per example; it only sets the time shift.

        Returns:
            ``(batch, 1, n_samples)`` audio in the dtype and device of ``theta``.
        """
        ctrl = self.controls(theta)
        shift = draw_shift(seed, theta.shape[0], self.max_shift).to(theta.device)
        audio = chirplet(
            ctrl["am_hz"],
            ctrl["fm_oct_per_s"],
            shift,
            sr=self.sr,
            n_samples=self.n_samples,
            f_c=self.f_c,
            bw_octaves=self.bw_octaves,
            sigma0=self.sigma0,
            max_duration=self.max_duration,
            sample_index=self.sample_index,
        )
        return audio.unsqueeze(1)
