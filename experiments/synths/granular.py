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
import numbers
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["GranularSynth", "granular", "draw_grains", "SeedLike"]

SeedLike = int | Tensor | Sequence[int] | torch.Generator | Sequence[torch.Generator]

# Below this |gamma * ln2 * t| the series of expm1(x) / x is used (error ~ x^3 / 24 < 1e-13).
_SMALL_X = 1e-4


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_int(name: str, value: object, minimum: int) -> int:
    if not _is_int(value):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_float(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def _generators(seed: SeedLike, batch: int) -> list[torch.Generator]:
    """One CPU generator per example from ``seed`` (see :func:`draw_grains`)."""
    if isinstance(seed, torch.Generator):
        return [seed] * batch
    if _is_int(seed):
        return [torch.Generator().manual_seed(int(seed)) for _ in range(batch)]
    if isinstance(seed, Tensor):
        if seed.is_floating_point() or seed.is_complex() or seed.dtype == torch.bool:
            raise TypeError(f"seed tensor must have an integer dtype, got {seed.dtype}")
        if seed.ndim == 0:
            return _generators(int(seed.item()), batch)
        if seed.ndim != 1 or seed.shape[0] != batch:
            raise ValueError(
                f"seed tensor must have shape () or (batch,) = ({batch},), got {tuple(seed.shape)}"
            )
        return [torch.Generator().manual_seed(int(s)) for s in seed.tolist()]
    if isinstance(seed, Sequence) and not isinstance(seed, (str, bytes)):
        if len(seed) != batch:
            raise ValueError(f"seed sequence must have length batch = {batch}, got {len(seed)}")
        gens = []
        for s in seed:
            if isinstance(s, torch.Generator):
                gens.append(s)
            elif _is_int(s):
                gens.append(torch.Generator().manual_seed(int(s)))
            else:
                raise TypeError(
                    f"seed entries must be ints or torch.Generator, got {type(s).__name__}"
                )
        return gens
    raise TypeError(
        "seed must be an int, an integer tensor of shape () or (batch,), a sequence of ints, "
        f"or torch.Generator(s); got {type(seed).__name__}"
    )


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
        seed: the randomness, one stream per example. An ``int`` (or 0-d integer tensor)
            seeds every example identically; a ``(batch,)`` integer tensor or a sequence of
            ``batch`` ints gives example ``i`` the seed ``seed[i]`` (so example ``i`` equals a
            single-example draw with ``seed[i]``); a ``torch.Generator`` is consumed
            sequentially for the examples; a sequence of generators gives one per example.
            The global RNG is never used.
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
    batch = _check_int("batch", batch, 1)
    n_grains = _check_int("n_grains", n_grains, 1)
    n_samples = _check_int("n_samples", n_samples, 1)
    grain_len = _check_int("grain_len", grain_len, 1)
    if grain_len > n_samples:
        raise ValueError(f"grain_len ({grain_len}) must be <= n_samples ({n_samples})")
    f0_min = _check_float("f0_min", f0_min)
    f0_max = _check_float("f0_max", f0_max)
    if not 0.0 < f0_min <= f0_max:
        raise ValueError(f"need 0 < f0_min <= f0_max, got f0_min={f0_min}, f0_max={f0_max}")
    gens = _generators(seed, batch)
    log_ratio = math.log(f0_max / f0_min)
    f0s, onsets = [], []
    for gen in gens:
        u = torch.rand(n_grains, generator=gen, dtype=torch.float64)
        f0s.append(f0_min * torch.exp(u * log_ratio))
        onsets.append(torch.randint(0, n_samples - grain_len + 1, (n_grains,), generator=gen))
    f0 = torch.stack(f0s).to(device=device, dtype=dtype)
    onset = torch.stack(onsets).to(device=device)
    return f0, onset


def _expm1_ratio(x: Tensor) -> Tensor:
    """``expm1(x) / x`` with the removable singularity at 0 handled (finite values and grads)."""
    small = x.abs() < _SMALL_X
    safe_x = torch.where(small, torch.ones_like(x), x)
    series = 1.0 + x / 2.0 + x * x / 6.0
    return torch.where(small, series, torch.expm1(safe_x) / safe_x)


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
    warped_t = t * _expm1_ratio(x)  # (batch, L): integral of 2^(gamma tau) dtau over [0, t]
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
        self.sr = _check_int("sr", sr, 1)
        self.n_samples = _check_int("n_samples", n_samples, 1)
        self.n_grains = _check_int("n_grains", n_grains, 1)
        self.grain_len = _check_int("grain_len", grain_len, 1)
        if self.grain_len > self.n_samples:
            raise ValueError(f"grain_len ({grain_len}) must be <= n_samples ({n_samples})")
        self.f0_min = _check_float("f0_min", f0_min)
        self.f0_max = _check_float("f0_max", f0_max)
        if self.f0_min <= 0.0:
            raise ValueError(f"f0_min must be > 0 Hz, got {f0_min}")
        if self.f0_max < self.f0_min:
            raise ValueError(f"f0_max ({f0_max}) must be >= f0_min ({f0_min})")
        if self.f0_max > self.sr / 2:
            raise ValueError(f"f0_max ({f0_max}) must be <= sr / 2 = {self.sr / 2} Hz")
        self.slope_cap = _check_float("slope_cap", slope_cap)
        if not 0.0 < self.slope_cap < 1.0:
            raise ValueError(f"slope_cap must lie in (0, 1), got {slope_cap}")
        self.density_sharpness = _check_float("density_sharpness", density_sharpness)
        if self.density_sharpness <= 0.0:
            raise ValueError(f"density_sharpness must be > 0, got {density_sharpness}")
        self.register_buffer(
            "window", torch.hann_window(self.grain_len, periodic=True), persistent=False
        )

    @property
    def max_slope_oct_per_s(self) -> float:
        """Largest absolute chirp rate in octaves per second (``tan(slope_cap * pi / 2)``)."""
        return math.tan(self.slope_cap * math.pi / 2)

    @staticmethod
    def _check_theta(theta: Tensor) -> None:
        if not isinstance(theta, Tensor):
            raise TypeError(f"theta must be a torch.Tensor, got {type(theta).__name__}")
        if not theta.is_floating_point():
            raise TypeError(f"theta must be a floating tensor, got {theta.dtype}")
        if theta.ndim != 2 or theta.shape[1] != 2:
            raise ValueError(f"theta must have shape (batch, 2), got {tuple(theta.shape)}")
        if theta.shape[0] == 0:
            raise ValueError("theta must hold at least one example (batch >= 1)")
        with torch.no_grad():
            if not bool(torch.isfinite(theta).all()):
                raise ValueError("theta must be finite")
            if bool((theta < 0).any()) or bool((theta > 1).any()):
                raise ValueError(
                    "theta must lie in [0, 1], got values in "
                    f"[{float(theta.min())}, {float(theta.max())}]"
                )

    def controls(self, theta: Tensor) -> dict[str, Tensor]:
        """Map ``theta`` ``(batch, 2)`` in ``[0, 1]`` to physical controls.

        Returns ``{"density": (batch,), "slope_oct_per_s": (batch,)}`` with
        ``density = theta[:, 0]`` and
        ``slope_oct_per_s = tan(slope_cap * pi / 2 * (2 * theta[:, 1] - 1))`` (octaves/s).
        """
        self._check_theta(theta)
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

        ``seed`` fixes the grains (pitches, onsets), independently of ``theta``: an int seeds
        every example identically; a ``(batch,)`` int64 tensor gives one seed per example
        (see :func:`draw_grains`). Differentiable with respect to ``theta``.
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
