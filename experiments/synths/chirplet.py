"""AM/FM chirplet synthesizer of the SCRAPL chirplet sound-matching experiment.

The set-up follows Mitcheltree et al., "SCRAPL: Scattering Transform with Random Paths for
Machine Learning", ICLR 2026 (chirplet experiment), whose synthesizer is the AM/FM chirplet of
Vahidi et al., "Mesostructures: Beyond Spectrogram Loss in Differentiable Time-Frequency
Analysis", JAES 2023. One example is a single Gaussian-windowed chirplet, rendered centred and
then shifted in time::

    t_n   = (n - N/2) / sr                                    seconds, n = 0 .. N-1
    phi_n = f_c / (gamma ln 2) (2^(gamma t_n) - 1)             cycles: f(t) = f_c 2^(gamma t)
    m_n   = sin(2 pi (f_AM / 2) t_n)                           AM, zero-mean
    w_n   = exp(-(n - (N-1)/2)^2 / (2 sigma^2)),  sigma = sigma0 bw sr / gamma  samples
    y_n   = gamma w_n m_n sin(2 pi phi_n)
    x_n   = y_{n - delta} if 0 <= n - delta < N else 0         circular roll, wrap zeroed

* FM: an exponential chirp at ``gamma`` octaves/s through ``f_c`` (512 Hz) at ``t = 0``; the
  phase is the closed-form integral, written ``f_c t E(gamma ln2 t)`` with
  ``E(u) = expm1(u) / u`` so that small rates have no 0/0.
* AM: the modulator ``sin(2 pi (f_AM / 2) t)`` has zero mean and its magnitude has period
  ``1 / f_AM``: the envelope has ``f_AM`` humps per second.
* Window: ``sigma`` in samples shrinks as the chirp speeds up, so that the window spans the
  same sweep (``sigma0 * bw`` octaves per standard deviation) whatever ``gamma``. It is treated
  as a constant of the gradient: no gradient flows through ``sigma`` (the rate is learned from
  the chirp itself, not from the window's width).
* The chirp is multiplied by ``gamma``: faster chirps, shorter windows, larger amplitude. No
  normalisation.
* The time shift ``delta``, an integer uniform in ``[-max_shift, max_shift]``, is the only
  randomness; it is drawn by :func:`draw_shift` from an explicit per-example seed (never from
  the global RNG), so target and reconstruction can be rendered with different seeds
  (misaligned in time, the "meso" setting) while staying reproducible.

DDSP split: :meth:`ChirpletSynth.controls` maps ``theta`` in ``[0, 1]^2`` log2-linearly to
``f_AM`` (Hz) and ``gamma`` (oct/s), and :func:`chirplet` is a pure, batched, differentiable
synthesis function.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from experiments.synths.common import SeedLike, check_theta, example_generators, expm1_over_x
from scrapl.validation import check_int, check_positive

__all__ = ["ChirpletSynth", "chirplet", "draw_shift", "log_scale", "shift_zero_wrap"]


def log_scale(theta: Tensor, lo: float, hi: float) -> Tensor:
    """Maps ``theta`` in [0, 1] log-linearly onto [lo, hi]: ``lo * (hi / lo) ** theta``.

    ``theta = 0 -> lo``, ``theta = 1 -> hi``, ``theta = 0.5 -> sqrt(lo * hi)``.
    """
    return lo * torch.exp2(theta * math.log2(hi / lo))


def shift_zero_wrap(x: Tensor, shift: Tensor) -> Tensor:
    """``x`` ``(batch, N)`` delayed by ``shift`` ``(batch,)`` integer samples, zero-filled.

    A circular roll by ``shift`` whose wrapped-around samples are set to 0: output sample
    ``n`` is ``x[n - shift]`` when ``0 <= n - shift < N``, else 0 (negative shifts advance).
    Differentiable with respect to ``x``.
    """
    n = x.shape[-1]
    src = torch.arange(n, device=x.device) - shift.to(x.device).reshape(-1, 1)
    valid = (src >= 0) & (src < n)
    return x.gather(-1, src.clamp(0, n - 1)) * valid


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
    sample_index: Tensor | None = None,
) -> Tensor:
    """Pure, batched AM/FM chirplet synthesis (see the module docstring).

    Args:
        am_hz: ``(batch,)`` AM rate f_AM in Hz (differentiable).
        fm_oct_per_s: ``(batch,)`` chirp rate gamma in octaves per second, > 0
            (differentiable through the chirp and the ``gamma`` gain, not through the window).
        shift_samples: ``(batch,)`` integer time shift delta in samples.
        sr: sample rate in Hz.
        n_samples: signal length N in samples.
        f_c: frequency in Hz at ``t = 0``.
        bw_octaves, sigma0: window width ``sigma = sigma0 * bw_octaves * sr / gamma`` samples.
        sample_index: optional ``(n_samples,)`` tensor ``0, 1, ..., N-1`` (a cached buffer).

    Returns:
        ``(batch, n_samples)`` signal in the dtype/device of ``am_hz``.
    """
    dtype, device = am_hz.dtype, am_hz.device
    if sample_index is None:
        sample_index = torch.arange(n_samples, dtype=dtype, device=device)
    else:
        sample_index = sample_index.to(dtype=dtype, device=device)
    am = am_hz.reshape(-1, 1)
    gamma = fm_oct_per_s.to(dtype).reshape(-1, 1)
    n = sample_index.reshape(1, -1)

    t = (n - n_samples / 2.0) / sr  # (1, N) seconds
    # The exponent is clamped far outside the window (|u| = 50 is > 70 octaves away) so that
    # huge rates cannot overflow into inf/NaN.
    u = (gamma * math.log(2.0) * t).clamp(-50.0, 50.0)
    cycles = f_c * t * expm1_over_x(u)
    modulator = torch.sin((2.0 * math.pi) * (am / 2.0) * t)
    sigma = (sigma0 * bw_octaves * sr) / gamma.detach()  # samples, no gradient
    window = torch.exp(-0.5 * ((n - (n_samples - 1) / 2.0) / sigma) ** 2)
    y = gamma * window * modulator * torch.sin((2.0 * math.pi) * cycles)
    return shift_zero_wrap(y, shift_samples)


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

    ``theta = (theta_AM, theta_FM)`` in ``[0, 1]^2`` is mapped log2-linearly to
    ``f_AM`` in ``am_range`` Hz and ``gamma`` in ``fm_range`` octaves/s. The published runs
    used AM 0.9899-1.9799 Hz ("lo") or 3.9598-7.9196 Hz ("hi") and FM 0.5-1 ("lo"), 2-4
    ("med") or 8-16 oct/s ("hi").

    Args:
        sr: sample rate in Hz.
        n_samples: signal length N in samples.
        f_c: frequency in Hz at the signal's centre; ``f_c * 2 ** (bw_octaves / 2)`` must lie
            below ``sr / 2``.
        bw_octaves: octaves swept per ``1 / sigma0`` standard deviations of the window.
        am_range: ``(min, max)`` AM rate in Hz, ``0 < min < max``.
        fm_range: ``(min, max)`` chirp rate in octaves/s, ``0 < min < max``.
        max_shift: maximum |time shift| in samples, ``0 <= max_shift < n_samples / 2``.
        sigma0: window width factor, in (0, 1).

    Buffers: ``sample_index`` ``(n_samples,)`` = ``0, ..., N-1`` (the time axis).

    ``takes_seed = True``: ``forward(theta, seed)`` draws the time shift from the seed.
    """

    sample_index: Tensor
    takes_seed = True

    def __init__(
        self,
        sr: int = 8192,
        n_samples: int = 32768,
        f_c: float = 512.0,
        bw_octaves: float = 2.0,
        am_range: tuple[float, float] = (0.9899, 1.9799),
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
        self.register_buffer(
            "sample_index", torch.arange(self.n_samples, dtype=torch.float32), persistent=False
        )

    def extra_repr(self) -> str:
        return (
            f"sr={self.sr:g}, n_samples={self.n_samples}, f_c={self.f_c:g}, "
            f"bw_octaves={self.bw_octaves:g}, am_range={self.am_range}, "
            f"fm_range={self.fm_range}, max_shift={self.max_shift}, sigma0={self.sigma0:g}"
        )

    def window_sigma(self, fm_oct_per_s: Tensor) -> Tensor:
        """Standard deviation of the window in samples, ``sigma0 * bw * sr / gamma``."""
        return self.sigma0 * self.bw_octaves * self.sr / fm_oct_per_s

    def controls(self, theta: Tensor) -> dict[str, Tensor]:
        """Maps ``theta`` ``(batch, 2)`` in [0, 1] to physical controls (log2 scale).

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
            sample_index=self.sample_index,
        )
        return audio.unsqueeze(1)
