"""Granular chirplet synthesizer of the SCRAPL sound-matching experiments.

Mitcheltree et al., "SCRAPL: Scattering Transform with Random Paths for Machine Learning",
ICLR 2026, use a granular synth whose two parameters (grain density and chirp slope) must be
recovered from audio whose grains are randomly placed: target and reconstruction are rendered
with different seeds, so the grains never line up ("meso" sound matching).

The synth follows the DDSP split used across ``experiments/synths``:

1. :meth:`GranularSynth.controls` maps ``theta`` in ``[0, 1]^2`` to physical controls:

   * ``density = theta[:, 0]`` (unit-free, fraction of the ``n_grains`` grains that are
     audible);
   * ``slope_oct_per_s = tan(slope_cap * (pi / 2) * (2 * theta[:, 1] - 1))`` in octaves per
     second, i.e. ``s = 2 theta - 1`` in ``[-1, 1]`` is passed through a tan curve capped at
     ``slope_cap`` (default 0.95) of its range so that ``theta = 0`` / ``1`` give
     ``-/+ tan(0.95 pi / 2) ~= -/+12.71`` oct/s instead of infinity. ``theta = 0.5`` gives a
     constant pitch.

2. :func:`granular` is a pure, batched, differentiable function of those controls and of the
   random grain parameters (start pitches ``f0`` and ``onsets``) drawn by :func:`draw_grains`
   from an explicit seed (never from the global RNG, never from ``theta``).

Signal model, for example ``b`` and grain ``k = 0 .. n_grains - 1`` (``t`` in seconds from
the grain's onset, ``w`` a periodic Hann window of ``grain_len`` samples)::

    a_k    = sigmoid(sharpness * (density * n_grains - k - 0.5))
    phi(t) = 2 pi f0_k (2^(gamma t) - 1) / (gamma ln 2)      (-> 2 pi f0_k t as gamma -> 0)
    g_k(t) = a_k w(t) sin(phi(t))                            inst. frequency f0_k 2^(gamma t)
    x(n)   = (1 / n_grains) sum_k g_k(n - onset_k)

``density * n_grains`` is thus the (soft) number of audible grains: grain ``k`` has amplitude
above 1/2 exactly when ``k + 0.5 < density * n_grains``. The output is normalised by the number
of grains, so ``|x| <= 1`` whatever ``theta`` and the seed. Instantaneous frequencies that pass
the Nyquist frequency (steep upward slopes from high start pitches) alias as in any plain
digital oscillator; no band-limiting is applied.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from experiments.synths.common import SeedLike, check_theta, example_generators, expm1_over_x
from scrapl.validation import check_int, check_positive

__all__ = ["GranularSynth", "granular", "draw_grains", "SeedLike"]


def draw_grains(
    seed: SeedLike,
    batch: int,
    n_grains: int,
    f0_min: float,
    f0_max: float,
    n_samples: int,
    grain_len: int,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor]:
    """Draw the random grain parameters of a batch from an explicit seed.

    Args:
        seed: the randomness, one stream per example (see
            :func:`~experiments.synths.common.example_generators`): an ``int`` ``s`` gives
            example ``i`` the seed ``s + i``; a ``(batch,)`` integer tensor or a sequence of
            ``batch`` ints gives example ``i`` the seed ``seed[i]``. Either way example ``i``
            equals a single-example draw with its own seed. The global RNG is never used.
        batch: number of examples.
        n_grains: grains per example.
        f0_min, f0_max: start-pitch range in Hz; pitches are log-uniform in it.
        n_samples: output length in samples.
        grain_len: grain length in samples; onsets are uniform integers in
            ``[0, n_samples - grain_len]``.
        device, dtype: where to put the outputs and the floating dtype of ``f0``.

    Returns:
        ``f0``: ``(batch, n_grains)`` start pitches in Hz (``dtype``);
        ``onsets``: ``(batch, n_grains)`` int64 onsets in samples.
    """
    n_grains = check_int("n_grains", n_grains, 1)
    n_samples = check_int("n_samples", n_samples, 1)
    grain_len = check_int("grain_len", grain_len, 1)
    if grain_len > n_samples:
        raise ValueError(f"grain_len ({grain_len}) must be <= n_samples ({n_samples})")
    f0_min = check_positive("f0_min", f0_min)
    f0_max = check_positive("f0_max", f0_max)
    if not f0_min <= f0_max:
        raise ValueError(f"need 0 < f0_min <= f0_max, got f0_min={f0_min}, f0_max={f0_max}")
    gens = example_generators(seed, batch)
    log_ratio = math.log(f0_max / f0_min)
    f0s, onsets = [], []
    for gen in gens:
        u = torch.rand(n_grains, generator=gen, dtype=torch.float64)
        f0s.append(f0_min * torch.exp(u * log_ratio))
        onsets.append(torch.randint(0, n_samples - grain_len + 1, (n_grains,), generator=gen))
    f0 = torch.stack(f0s).to(device=device, dtype=dtype)
    onset = torch.stack(onsets).to(device=device)
    return f0, onset


def granular(
    density: Tensor,
    slope_oct_per_s: Tensor,
    f0: Tensor,
    onsets: Tensor,
    sr: int,
    n_samples: int,
    grain_len: int,
    *,
    window: Tensor | None = None,
    density_sharpness: float = 1.0,
) -> Tensor:
    """Render a batch of granular chirplet sounds from physical controls (pure function).

    Args:
        density: ``(batch,)`` fraction of audible grains in ``[0, 1]`` (differentiable).
        slope_oct_per_s: ``(batch,)`` chirp rate gamma in octaves per second; the
            instantaneous frequency of grain ``k`` is ``f0[:, k] * 2 ** (gamma * t)`` with
            ``t`` the time in seconds since the grain's onset (differentiable).
        f0: ``(batch, n_grains)`` start pitches in Hz.
        onsets: ``(batch, n_grains)`` integer onsets in samples, each in
            ``[0, n_samples - grain_len]``.
        sr: sample rate in Hz.
        n_samples: output length in samples.
        grain_len: grain length in samples.
        window: ``(grain_len,)`` grain envelope; a periodic Hann window when ``None``.
        density_sharpness: steepness of the amplitude roll-off across grain index
            (``a_k = sigmoid(density_sharpness * (density * n_grains - k - 0.5))``).

    Returns:
        ``(batch, 1, n_samples)`` audio, normalised by ``n_grains`` (so ``|x| <= 1``), in the
        floating dtype of ``density``/``slope_oct_per_s``.
    """
    if density.ndim != 1 or slope_oct_per_s.shape != density.shape:
        raise ValueError(
            "density and slope_oct_per_s must both have shape (batch,), got "
            f"{tuple(density.shape)} and {tuple(slope_oct_per_s.shape)}"
        )
    batch = density.shape[0]
    if f0.ndim != 2 or f0.shape[0] != batch:
        raise ValueError(f"f0 must have shape (batch={batch}, n_grains), got {tuple(f0.shape)}")
    if onsets.shape != f0.shape:
        raise ValueError(
            f"onsets must have the shape of f0 {tuple(f0.shape)}, got {tuple(onsets.shape)}"
        )
    if onsets.is_floating_point():
        raise TypeError(f"onsets must be an integer tensor, got {onsets.dtype}")
    if onsets.numel() and (int(onsets.min()) < 0 or int(onsets.max()) > n_samples - grain_len):
        raise ValueError(
            f"onsets must lie in [0, n_samples - grain_len] = [0, {n_samples - grain_len}]"
        )
    n_grains = f0.shape[1]
    dtype = torch.promote_types(density.dtype, slope_oct_per_s.dtype)
    device = density.device
    if window is None:
        window = torch.hann_window(grain_len, periodic=True, dtype=dtype, device=device)
    elif window.shape != (grain_len,):
        raise ValueError(
            f"window must have shape (grain_len,) = ({grain_len},), got {tuple(window.shape)}"
        )
    window = window.to(device=device, dtype=dtype)

    # Per-grain amplitudes: soft count of audible grains, differentiable in density.
    k = torch.arange(n_grains, device=device, dtype=dtype)
    amp = torch.sigmoid(density_sharpness * (density.to(dtype)[:, None] * n_grains - k - 0.5))

    # Chirp phase 2 pi f0 (2^(gamma t) - 1) / (gamma ln 2) = 2 pi f0 t expm1(x) / x,
    # with x = gamma ln2 t.
    t = torch.arange(grain_len, device=device, dtype=dtype) / sr  # (L,) seconds
    x = slope_oct_per_s.to(dtype)[:, None] * math.log(2.0) * t  # (batch, L)
    warped_t = t * expm1_over_x(x)  # (batch, L): integral of 2^(gamma tau) dtau over [0, t]
    phase = 2.0 * math.pi * f0.to(device=device, dtype=dtype)[:, :, None] * warped_t[:, None, :]
    grains = (amp[:, :, None] * window) * torch.sin(phase)  # (batch, n_grains, L)

    # Overlap-add at the onsets (scatter_add is differentiable w.r.t. the grains).
    index = onsets.to(device)[:, :, None] + torch.arange(grain_len, device=device)
    out = torch.zeros(batch, n_samples, device=device, dtype=dtype)
    out = out.scatter_add(1, index.reshape(batch, -1), grains.reshape(batch, -1))
    return (out / n_grains).unsqueeze(1)


class GranularSynth(torch.nn.Module):
    """Granular chirplet synth: ``theta`` in ``[0, 1]^2`` -> ``(batch, 1, n_samples)`` audio.

    ``theta[:, 0]`` is the grain density, ``theta[:, 1]`` the chirp slope; see the module
    docstring for the exact mappings and signal model (Mitcheltree et al., ICLR 2026, SCRAPL).

    Args:
        sr: sample rate in Hz.
        n_samples: output length in samples.
        n_grains: maximum number of grains per example.
        grain_len: grain length in samples (Hann window).
        f0_min, f0_max: start-pitch range in Hz (log-uniform), ``0 < f0_min <= f0_max <= sr/2``.
        slope_cap: fraction of the tan curve's range used, in ``(0, 1)``; the largest slope
            is ``tan(slope_cap * pi / 2)`` oct/s.
        density_sharpness: steepness (per grain) of the amplitude roll-off across grain index.
    """

    def __init__(
        self,
        sr: int = 8192,
        n_samples: int = 32768,
        n_grains: int = 64,
        grain_len: int = 4096,
        f0_min: float = 256.0,
        f0_max: float = 2048.0,
        slope_cap: float = 0.95,
        density_sharpness: float = 1.0,
    ) -> None:
        super().__init__()
        self.sr = check_int("sr", sr, 1)
        self.n_samples = check_int("n_samples", n_samples, 1)
        self.n_grains = check_int("n_grains", n_grains, 1)
        self.grain_len = check_int("grain_len", grain_len, 1)
        if self.grain_len > self.n_samples:
            raise ValueError(f"grain_len ({grain_len}) must be <= n_samples ({n_samples})")
        self.f0_min = check_positive("f0_min", f0_min)
        self.f0_max = check_positive("f0_max", f0_max)
        if self.f0_max < self.f0_min:
            raise ValueError(f"f0_max ({f0_max}) must be >= f0_min ({f0_min})")
        if self.f0_max > self.sr / 2:
            raise ValueError(f"f0_max ({f0_max}) must be <= sr / 2 = {self.sr / 2} Hz")
        self.slope_cap = check_positive("slope_cap", slope_cap)
        if not self.slope_cap < 1.0:
            raise ValueError(f"slope_cap must lie in (0, 1), got {slope_cap}")
        self.density_sharpness = check_positive("density_sharpness", density_sharpness)
        self.register_buffer(
            "window", torch.hann_window(self.grain_len, periodic=True), persistent=False
        )

    @property
    def max_slope_oct_per_s(self) -> float:
        """Largest absolute chirp rate in octaves per second (``tan(slope_cap * pi / 2)``)."""
        return math.tan(self.slope_cap * math.pi / 2)

    def controls(self, theta: Tensor) -> dict[str, Tensor]:
        """Map ``theta`` ``(batch, 2)`` in ``[0, 1]`` to physical controls.

        Returns ``{"density": (batch,), "slope_oct_per_s": (batch,)}`` with
        ``density = theta[:, 0]`` and
        ``slope_oct_per_s = tan(slope_cap * pi / 2 * (2 * theta[:, 1] - 1))`` (octaves/s).
        """
        check_theta(theta, 2)
        s = 2.0 * theta[:, 1] - 1.0
        return {
            "density": theta[:, 0],
            "slope_oct_per_s": torch.tan(self.slope_cap * (math.pi / 2) * s),
        }

    def draw(
        self,
        seed: SeedLike,
        batch: int,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> tuple[Tensor, Tensor]:
        """Grain start pitches (Hz) and onsets (samples), each ``(batch, n_grains)``."""
        return draw_grains(
            seed,
            batch,
            self.n_grains,
            self.f0_min,
            self.f0_max,
            self.n_samples,
            self.grain_len,
            device=device,
            dtype=dtype,
        )

    def forward(self, theta: Tensor, seed: SeedLike) -> Tensor:
        """Render ``theta`` ``(batch, 2)`` into ``(batch, 1, n_samples)`` audio.

        ``seed`` fixes the grains (pitches, onsets), independently of ``theta``: an int ``s``
        gives example ``i`` the seed ``s + i``; a ``(batch,)`` int64 tensor gives one seed per
        example (see :func:`draw_grains`). Differentiable with respect to ``theta``.
        """
        ctrl = self.controls(theta)
        f0, onsets = self.draw(seed, theta.shape[0], device=theta.device, dtype=theta.dtype)
        return granular(
            ctrl["density"],
            ctrl["slope_oct_per_s"],
            f0,
            onsets,
            self.sr,
            self.n_samples,
            self.grain_len,
            window=self.window,
            density_sharpness=self.density_sharpness,
        )

    def extra_repr(self) -> str:
        return (
            f"sr={self.sr}, n_samples={self.n_samples}, n_grains={self.n_grains}, "
            f"grain_len={self.grain_len}, f0=[{self.f0_min}, {self.f0_max}] Hz, "
            f"slope_cap={self.slope_cap}, density_sharpness={self.density_sharpness}"
        )
