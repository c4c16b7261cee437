"""Granular chirplet synthesizer of the SCRAPL sound-matching experiments.

Mitcheltree et al., "SCRAPL: Scattering Transform with Random Paths for Machine Learning",
ICLR 2026, use a granular synth whose two parameters (grain density and chirp slope) must be
recovered from audio whose grains are randomly placed: target and reconstruction are rendered
with different seeds, so the grains never line up ("meso" sound matching). Every example is
normalised to unit L2 norm, so loudness carries no information about the density: only the
texture (how many grains stand out) does.

The synth follows the DDSP split used across ``experiments/synths``:

1. :meth:`GranularSynth.controls` maps ``theta`` in ``[0, 1]^2`` to physical controls:

   * ``density = theta[:, 0]`` (unit-free, see the amplitude law below);
   * ``slope_oct_per_s = slope_scale * tan(slope_cap * (pi / 2) * (2 theta[:, 1] - 1))``,
     the chirp rate gamma in octaves per second shared by every grain of the example. The tan
     curve is capped at ``slope_cap`` (0.95) of its range so that ``theta = 0 / 1`` stay
     finite; ``slope_scale = sr / (cqt_bins_per_octave * cqt_hop) / 4`` expresses the rate in
     quarters of one CQT bin per CQT frame (12 bins per octave, hop 256 at 8192 Hz:
     ``2/3`` oct/s, so ``|gamma| <= 8.47`` oct/s). ``theta = 0.5`` gives a constant pitch.

2. :func:`granular` is a pure, batched, differentiable function of those controls and of the
   random grain parameters (centre pitches ``f0`` and ``onsets``) drawn by
   :func:`draw_grains` from an explicit seed (never from the global RNG, never from
   ``theta``).

Signal model, for example ``b`` and grain ``k = 0 .. K - 1`` (``K = n_grains``, ``L =
grain_len``, ``w`` the periodic Hann window ``sin^2(pi n / L)``)::

    t_n    = (n - L/2) / sr,  n = 0 .. L-1                  time centred on the grain (s)
    f_k(n) = f0_k 2^(gamma t_n)                             so f0_k is the pitch at the centre
    phi_k(n) = 2 pi sum_{m <= n} f_k(m) / sr                 phase: cumulative sum
    c      = 0.25 d + 0.75 d^2
    a_k    = 1 - sigmoid(2 (1 - d) K (k / K - c)),  then a_k / max_j a_j
    g_k(n) = a_k / sqrt(f0_k) w(n) sin(phi_k(n))
    x      = y / ||y||_2,  y(n) = sum_k g_k(n - onset_k)

The amplitude law keeps the first grains loud and rolls the later ones off around grain
``c K``: the grains with ``a_k > 1/2`` number 1, 8, 21, 40 and 64 for ``d`` = 0, 0.25, 0.5,
0.75 and 1 (exact arithmetic; float32 rounding can drop a grain sitting exactly on 1/2).
Instantaneous frequencies that pass the Nyquist frequency (steep upward slopes from high
pitches) alias as in any plain digital oscillator; no band-limiting is applied.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from experiments.synths.common import SeedLike, check_theta, example_generators
from scrapl.validation import check_int, check_positive

__all__ = [
    "GranularSynth",
    "SeedLike",
    "draw_grains",
    "grain_amplitudes",
    "granular",
    "overlap_add",
]


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
        f0_min, f0_max: centre-pitch range in Hz; pitches are log-uniform in it.
        n_samples: output length in samples.
        grain_len: grain length in samples; onsets are uniform integers in
            ``[0, n_samples - grain_len)`` (the last grain ends at least one sample early).
        device, dtype: where to put the outputs and the floating dtype of ``f0``.

    Returns:
        ``f0``: ``(batch, n_grains)`` centre pitches in Hz (``dtype``);
        ``onsets``: ``(batch, n_grains)`` int64 onsets in samples.
    """
    n_grains = check_int("n_grains", n_grains, 1)
    n_samples = check_int("n_samples", n_samples, 2)
    grain_len = check_int("grain_len", grain_len, 1)
    if grain_len >= n_samples:
        raise ValueError(f"grain_len ({grain_len}) must be < n_samples ({n_samples})")
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
        onsets.append(torch.randint(0, n_samples - grain_len, (n_grains,), generator=gen))
    f0 = torch.stack(f0s).to(device=device, dtype=dtype)
    onset = torch.stack(onsets).to(device=device)
    return f0, onset


def grain_amplitudes(density: Tensor, n_grains: int) -> Tensor:
    """Relative grain amplitudes ``(batch, n_grains)`` in ``(0, 1]`` for ``density`` ``(batch,)``.

    ``a_k = 1 - sigmoid(2 (1 - d) K (k / K - (0.25 d + 0.75 d^2)))`` divided by its maximum
    over ``k`` (grain 0, the loudest). Differentiable in ``density``; ``d = 1`` gives all ones.
    """
    n_grains = check_int("n_grains", n_grains, 1)
    d = density[:, None]
    k = torch.arange(n_grains, device=density.device, dtype=density.dtype)
    centre = 0.25 * d + 0.75 * d * d
    amp = 1.0 - torch.sigmoid(2.0 * (1.0 - d) * n_grains * (k / n_grains - centre))
    return amp / amp.amax(dim=1, keepdim=True)


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
) -> Tensor:
    """Render a batch of granular chirplet sounds from physical controls (pure function).

    Args:
        density: ``(batch,)`` density ``d`` in ``[0, 1]`` (differentiable), see
            :func:`grain_amplitudes`.
        slope_oct_per_s: ``(batch,)`` chirp rate gamma in octaves per second; grain ``k`` has
            the instantaneous frequency ``f0[:, k] * 2 ** (gamma * t)`` with ``t`` in seconds
            from the grain's centre (differentiable).
        f0: ``(batch, n_grains)`` centre pitches in Hz.
        onsets: ``(batch, n_grains)`` integer onsets in samples, each in
            ``[0, n_samples - grain_len]``.
        sr: sample rate in Hz.
        n_samples: output length in samples.
        grain_len: grain length in samples.
        window: ``(grain_len,)`` grain envelope; the periodic Hann window when ``None``.

    Returns:
        ``(batch, 1, n_samples)`` audio of unit L2 norm per example, in the floating dtype of
        ``density`` / ``slope_oct_per_s``.
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
    f0 = f0.to(device=device, dtype=dtype)

    amp = grain_amplitudes(density.to(dtype), n_grains) / torch.sqrt(f0)  # (batch, K)
    # Every grain of an example shares gamma, so the cumulative sum of 2^(gamma t) / sr is
    # computed once per example and scaled by each grain's f0.
    t = (torch.arange(grain_len, device=device, dtype=dtype) - grain_len / 2) / sr
    ratio = torch.exp2(slope_oct_per_s.to(dtype)[:, None] * t)  # (batch, L)
    cycles = torch.cumsum(ratio, dim=1) / sr  # (batch, L): sum of f / (f0 sr)
    phase = (2.0 * math.pi) * f0[:, :, None] * cycles[:, None, :]  # (batch, K, L)
    grains = (amp[:, :, None] * window) * torch.sin(phase)

    out = overlap_add(grains, onsets.to(device), n_samples)
    out = out / torch.linalg.vector_norm(out, dim=1, keepdim=True)
    return out.unsqueeze(1)


class _OverlapAdd(torch.autograd.Function):
    """Forward: the grains added into the output one after another (no autograd graph);
    backward: each grain's gradient is the output gradient at its samples (one gather, itself
    differentiable, so second derivatives for the θ-IS warmup flow through it)."""

    @staticmethod
    def forward(ctx: Any, grains: Tensor, index: Tensor, n_samples: int) -> Tensor:
        out = grains.new_zeros(grains.shape[0], n_samples)
        for k in range(grains.shape[1]):
            idx = index[:, k]
            out.scatter_(1, idx, out.gather(1, idx).add_(grains[:, k]))
        ctx.save_for_backward(index)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        (index,) = ctx.saved_tensors
        batch, n_grains, grain_len = index.shape
        grad_grains = grad.gather(1, index.reshape(batch, -1))
        return grad_grains.reshape(batch, n_grains, grain_len), None, None


def overlap_add(grains: Tensor, onsets: Tensor, n_samples: int) -> Tensor:
    """``y[b, n] = sum_k grains[b, k, n - onsets[b, k]]`` (zero outside a grain), ``(batch,
    n_samples)``, summed grain after grain in ``k`` order on every device.

    One grain of a row covers distinct samples, so each of the ``K`` steps is a gather, an
    add and a plain scatter without colliding indices: every sample's sum is accumulated in
    the same order (0 + g_0 + g_1 + ...) whatever the device or thread count, and two renders
    are bit-identical. A ``scatter_add`` of all grains at once accumulates colliding indices
    with atomics on CUDA, in an order (hence last bits) that changes from call to call, which
    the θ-IS warmup's determinism check refuses. On CPU ``scatter_add`` runs each row in
    index order, i.e. the same sums in the same order: the two agree there to the bit.
    """
    if grains.ndim != 3 or onsets.shape != grains.shape[:2]:
        raise ValueError(
            f"grains must be (batch, n_grains, grain_len) and onsets (batch, n_grains), got "
            f"{tuple(grains.shape)} and {tuple(onsets.shape)}"
        )
    index = onsets[:, :, None] + torch.arange(grains.shape[2], device=grains.device)
    return _OverlapAdd.apply(grains, index, n_samples)


class GranularSynth(torch.nn.Module):
    """Granular chirplet synth: ``theta`` in ``[0, 1]^2`` -> ``(batch, 1, n_samples)`` audio.

    ``theta[:, 0]`` is the grain density, ``theta[:, 1]`` the chirp slope; see the module
    docstring for the exact mappings and signal model (Mitcheltree et al., ICLR 2026, SCRAPL).

    Args:
        sr: sample rate in Hz.
        n_samples: output length in samples.
        n_grains: number of grains per example.
        grain_len: grain length in samples (periodic Hann window), ``< n_samples``.
        f0_min, f0_max: centre-pitch range in Hz (log-uniform), ``0 < f0_min <= f0_max <= sr/2``.
        slope_cap: fraction of the tan curve's range used, in ``(0, 1)``.
        cqt_bins_per_octave, cqt_hop: the CQT grid that sets the chirp-rate unit,
            ``slope_scale = sr / (cqt_bins_per_octave * cqt_hop) / 4`` oct/s.

    ``takes_seed = True``: ``forward(theta, seed)`` draws its randomness from the seed.
    """

    takes_seed = True

    def __init__(
        self,
        sr: int = 8192,
        n_samples: int = 32768,
        n_grains: int = 64,
        grain_len: int = 4096,
        f0_min: float = 256.0,
        f0_max: float = 2048.0,
        slope_cap: float = 0.95,
        cqt_bins_per_octave: int = 12,
        cqt_hop: int = 256,
    ) -> None:
        super().__init__()
        self.sr = check_int("sr", sr, 1)
        self.n_samples = check_int("n_samples", n_samples, 2)
        self.n_grains = check_int("n_grains", n_grains, 1)
        self.grain_len = check_int("grain_len", grain_len, 1)
        if self.grain_len >= self.n_samples:
            raise ValueError(f"grain_len ({grain_len}) must be < n_samples ({n_samples})")
        self.f0_min = check_positive("f0_min", f0_min)
        self.f0_max = check_positive("f0_max", f0_max)
        if self.f0_max < self.f0_min:
            raise ValueError(f"f0_max ({f0_max}) must be >= f0_min ({f0_min})")
        if self.f0_max > self.sr / 2:
            raise ValueError(f"f0_max ({f0_max}) must be <= sr / 2 = {self.sr / 2} Hz")
        self.slope_cap = check_positive("slope_cap", slope_cap)
        if not self.slope_cap < 1.0:
            raise ValueError(f"slope_cap must lie in (0, 1), got {slope_cap}")
        self.cqt_bins_per_octave = check_int("cqt_bins_per_octave", cqt_bins_per_octave, 1)
        self.cqt_hop = check_int("cqt_hop", cqt_hop, 1)
        self.register_buffer(
            "window", torch.hann_window(self.grain_len, periodic=True), persistent=False
        )

    @property
    def slope_scale(self) -> float:
        """Chirp-rate unit in oct/s: a quarter of one CQT bin per CQT frame."""
        return self.sr / (self.cqt_bins_per_octave * self.cqt_hop) / 4

    @property
    def max_slope_oct_per_s(self) -> float:
        """Largest absolute chirp rate in octaves per second."""
        return self.slope_scale * math.tan(self.slope_cap * math.pi / 2)

    def controls(self, theta: Tensor) -> dict[str, Tensor]:
        """Map ``theta`` ``(batch, 2)`` in ``[0, 1]`` to physical controls.

        Returns ``{"density": (batch,), "slope_oct_per_s": (batch,)}`` (see module docstring).
        """
        check_theta(theta, 2)
        s = 2.0 * theta[:, 1] - 1.0
        return {
            "density": theta[:, 0],
            "slope_oct_per_s": self.slope_scale * torch.tan(self.slope_cap * (math.pi / 2) * s),
        }

    def draw(
        self,
        seed: SeedLike,
        batch: int,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> tuple[Tensor, Tensor]:
        """Grain centre pitches (Hz) and onsets (samples), each ``(batch, n_grains)``."""
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
        # Drawn on the host (CPU generators) and checked there by granular(), which then
        # copies them to θ's device: no device-to-host read.
        f0, onsets = self.draw(seed, theta.shape[0], dtype=theta.dtype)
        return granular(
            ctrl["density"],
            ctrl["slope_oct_per_s"],
            f0,
            onsets,
            self.sr,
            self.n_samples,
            self.grain_len,
            window=self.window,
        )

    def extra_repr(self) -> str:
        return (
            f"sr={self.sr}, n_samples={self.n_samples}, n_grains={self.n_grains}, "
            f"grain_len={self.grain_len}, f0=[{self.f0_min}, {self.f0_max}] Hz, "
            f"slope_cap={self.slope_cap}, slope_scale={self.slope_scale:.6g} oct/s"
        )
