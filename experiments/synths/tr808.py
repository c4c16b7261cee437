"""Differentiable Roland TR-808-style drum synth of the SCRAPL real-world experiment.

Mitcheltree et al., "SCRAPL: Scattering Transform with Random Paths for Machine Learning",
ICLR 2026, match drum one-shots with a 14-parameter DDSP synth: two sine oscillators sharing
an exponential pitch envelope, white noise through a resonant high-pass biquad, per-voice
exponential amplitude envelopes and gains, and a tanh waveshaper. The synth is
deterministic: its only noise is one fixed buffer drawn once from ``noise_seed``.

DDSP split, as across ``experiments/synths``:

1. :meth:`TR808Synth.controls` maps ``theta`` in ``[0, 1]^14`` *linearly* onto the physical
   ranges of :data:`PARAMETERS` (``lo + (hi - lo) * theta``), in this order:

   ===  ===========  ==============  ================================================
   dim  name         range           meaning
   ===  ===========  ==============  ================================================
   0    osc1_freq    20-2000 Hz      oscillator 1 base frequency
   1    osc1_mod     -1...2          oscillator 1 pitch-envelope depth
   2    osc2_freq    20-2000 Hz      oscillator 2 base frequency
   3    osc2_mod     -1...2          oscillator 2 pitch-envelope depth
   4    freq_decay   10-2000 ms      pitch envelope decay (-60 dB time)
   5    osc1_decay   10-2000 ms      oscillator 1 amplitude decay
   6    osc2_decay   10-2000 ms      oscillator 2 amplitude decay
   7    noise_decay  10-2000 ms      noise amplitude decay
   8    noise_freq   20-22050 Hz     high-pass cutoff
   9    noise_q      0.5-10          high-pass Q
   10   osc1_gain    -60...+6 dB     oscillator 1 gain
   11   osc2_gain    -60...+6 dB     oscillator 2 gain
   12   noise_gain   -60...+6 dB     noise gain
   13   tanh_gain    -24...+24 dB    waveshaper input gain
   ===  ===========  ==============  ================================================

2. :func:`tr808` is a pure, batched, differentiable function of those controls and of the
   noise buffer. For sample ``n = 0 .. N-1``:

   * envelope with decay ``d`` ms: ``n / A`` for ``n < A`` (linear attack over ``A = 44``
     samples, 1 ms), then ``r^(n - A)`` with ``r = 1 - 6.91 / (d * sr / 1000)``, so that it
     falls by 60 dB (``e^-6.91``) about ``d`` ms after the attack;
   * oscillator ``i``: ``sin(phi_i[n])``, ``phi_i[n] = sum_{m<n} omega_i[m]`` (phase 0 at
     ``n = 0``), ``omega_i = 2 pi f_i / sr * (1 + mod_i * env_freq)``;
   * noise: ``clamp(highpass(u * env_noise), -1, 1)`` with ``u`` the fixed ``U[-1, 1)``
     buffer and the biquad of :mod:`experiments.synths.biquad`;
   * ``y = g1 osc1 env1 + g2 osc2 env2 + g_noise noise`` (gains ``10^(dB/20)``) and the
     output ``tanh(10^(tanh_gain/20) * y)``, in ``(-1, 1)``.

The oscillator phases are accumulated in float64: at 6 kHz (2 kHz with ``mod = 2``) the phase
reaches ~4e4 rad within a second, where float32 steps are 4e-3 rad.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from experiments.synths.biquad import highpass_biquad
from experiments.synths.common import check_theta
from scrapl.validation import check_int, check_positive

__all__ = ["PARAMETERS", "TR808Synth", "decay_envelope", "tr808"]

# -60 dB in nepers, as in the published synth (ln 1000 = 6.9078).
_LN_60_DB = 6.91


class Parameter(NamedTuple):
    """One synth parameter: ``theta`` in [0, 1] maps to ``lo + (hi - lo) * theta`` ``unit``."""

    name: str
    lo: float
    hi: float
    unit: str


PARAMETERS: tuple[Parameter, ...] = (
    Parameter("osc1_freq", 20.0, 2000.0, "Hz"),
    Parameter("osc1_mod", -1.0, 2.0, ""),
    Parameter("osc2_freq", 20.0, 2000.0, "Hz"),
    Parameter("osc2_mod", -1.0, 2.0, ""),
    Parameter("freq_decay", 10.0, 2000.0, "ms"),
    Parameter("osc1_decay", 10.0, 2000.0, "ms"),
    Parameter("osc2_decay", 10.0, 2000.0, "ms"),
    Parameter("noise_decay", 10.0, 2000.0, "ms"),
    Parameter("noise_freq", 20.0, 22050.0, "Hz"),
    Parameter("noise_q", 0.5, 10.0, ""),
    Parameter("osc1_gain", -60.0, 6.0, "dB"),
    Parameter("osc2_gain", -60.0, 6.0, "dB"),
    Parameter("noise_gain", -60.0, 6.0, "dB"),
    Parameter("tanh_gain", -24.0, 24.0, "dB"),
)


def decay_envelope(
    decay_ms: Tensor, n_samples: int, sr: float, attack: int = 44, check_values: bool = True
) -> Tensor:
    """Linear attack then exponential decay, ``(batch, n_samples)``.

    ``n / attack`` for ``n < attack``, then ``r^(n - attack)`` with
    ``r = 1 - 6.91 / (decay_ms * sr / 1000)``.

    Args:
        decay_ms: ``(batch,)`` decay times in ms; ``decay_ms * sr / 1000`` must exceed 6.91
            samples (``r > 0``).
        n_samples: envelope length.
        sr: sample rate in Hz.
        attack: attack length in samples (>= 0; 0: no attack, the decay starts at 1).
        check_values: check ``r > 0`` (a read of the values: a host sync on a GPU); False
            for callers whose ranges ensure it.
    """
    decay_samples = decay_ms[:, None] * (sr / 1000.0)
    if check_values and bool((decay_samples <= _LN_60_DB).any()):
        raise ValueError(
            f"decay_ms * sr / 1000 must exceed {_LN_60_DB} samples, got min "
            f"{float(decay_samples.min()):.4g}"
        )
    n = torch.arange(n_samples, dtype=decay_ms.dtype, device=decay_ms.device)
    log_r = torch.log1p(-_LN_60_DB / decay_samples)
    decay = torch.exp((n - attack).clamp(min=0.0) * log_r)
    if attack == 0:
        return decay
    return torch.where(n < attack, n / attack, decay)


def _oscillator(freq_hz: Tensor, mod: Tensor, freq_env: Tensor, sr: float) -> Tensor:
    omega = (2.0 * math.pi / sr) * freq_hz[:, None] * (1.0 + mod[:, None] * freq_env)
    # Phase before each sample: an exclusive cumulative sum, accumulated in float64.
    phase = F.pad(torch.cumsum(omega[:, :-1].to(torch.float64), dim=-1), (1, 0))
    return torch.sin(phase).to(omega.dtype)


def _db_to_gain(db: Tensor) -> Tensor:
    return torch.pow(10.0, db / 20.0)


def tr808(
    osc1_freq: Tensor,
    osc1_mod: Tensor,
    osc2_freq: Tensor,
    osc2_mod: Tensor,
    freq_decay: Tensor,
    osc1_decay: Tensor,
    osc2_decay: Tensor,
    noise_decay: Tensor,
    noise_freq: Tensor,
    noise_q: Tensor,
    osc1_gain: Tensor,
    osc2_gain: Tensor,
    noise_gain: Tensor,
    tanh_gain: Tensor,
    *,
    noise: Tensor,
    sr: float = 44100,
    attack: int = 44,
    check_values: bool = True,
) -> Tensor:
    """Render a batch of TR-808-style drum hits from physical controls (pure function).

    Args:
        osc1_freq, osc2_freq: ``(batch,)`` oscillator base frequencies in Hz.
        osc1_mod, osc2_mod: ``(batch,)`` pitch-envelope depths (unit-free: the frequency is
            ``f * (1 + mod * env_freq)``).
        freq_decay, osc1_decay, osc2_decay, noise_decay: ``(batch,)`` envelope decay times
            in ms (time to -60 dB after the attack).
        noise_freq: ``(batch,)`` high-pass cutoff in Hz (> 0).
        noise_q: ``(batch,)`` high-pass Q (> 0).
        osc1_gain, osc2_gain, noise_gain, tanh_gain: ``(batch,)`` gains in dB.
        noise: ``(n_samples,)`` the fixed noise buffer; sets the output length.
        sr: sample rate in Hz.
        attack: linear attack of every envelope, in samples.
        check_values: check the decays, cutoffs and Qs (see :func:`decay_envelope`).

    Returns:
        ``(batch, 1, n_samples)`` audio in ``(-1, 1)``, dtype of ``osc1_freq``.
    """
    n_samples = noise.shape[-1]
    dtype = osc1_freq.dtype
    env = {
        name: decay_envelope(decay.to(dtype), n_samples, sr, attack, check_values)
        for name, decay in (
            ("freq", freq_decay),
            ("osc1", osc1_decay),
            ("osc2", osc2_decay),
            ("noise", noise_decay),
        )
    }
    osc1 = _oscillator(osc1_freq, osc1_mod, env["freq"], sr) * env["osc1"]
    osc2 = _oscillator(osc2_freq, osc2_mod, env["freq"], sr) * env["osc2"]
    filtered = highpass_biquad(
        noise.to(dtype) * env["noise"], noise_freq, noise_q, sr, check_values=check_values
    )
    noise_out = filtered.clamp(-1.0, 1.0)
    y = (
        _db_to_gain(osc1_gain)[:, None] * osc1
        + _db_to_gain(osc2_gain)[:, None] * osc2
        + _db_to_gain(noise_gain)[:, None] * noise_out
    )
    return torch.tanh(_db_to_gain(tanh_gain)[:, None] * y).unsqueeze(1)


class TR808Synth(torch.nn.Module):
    """TR-808-style drum synth: ``theta`` ``(batch, 14)`` in [0, 1] -> ``(batch, 1, N)`` audio.

    See the module docstring for the parameters (:data:`PARAMETERS`, in order) and the signal
    model (Mitcheltree et al., ICLR 2026, SCRAPL). Deterministic: the noise is one buffer of
    ``n_samples`` values ``U[-1, 1)`` drawn at construction from a ``torch.Generator`` seeded
    with ``noise_seed``.

    Args:
        sr: sample rate in Hz.
        n_samples: output length N in samples (>= 2).
        noise_seed: seed of the noise buffer (>= 0).
        attack: linear attack of every envelope, in samples (44 = 1 ms at 44.1 kHz).

    Buffers: ``noise`` ``(n_samples,)``, not saved in the state dict (``noise_seed``
    reproduces it).

    ``takes_seed = False``: ``forward`` takes no seed (see
    :func:`experiments.synth_protocol.synth_takes_seed`).
    """

    noise: Tensor
    takes_seed = False
    n_theta = len(PARAMETERS)
    param_names: tuple[str, ...] = tuple(p.name for p in PARAMETERS)

    def __init__(
        self, sr: int = 44100, n_samples: int = 44100, noise_seed: int = 0, attack: int = 44
    ) -> None:
        super().__init__()
        self.sr = check_positive("sr", sr)
        self.n_samples = check_int("n_samples", n_samples, 2)
        self.noise_seed = check_int("noise_seed", noise_seed, 0)
        self.attack = check_int("attack", attack, 0)
        if self.attack >= self.n_samples:
            raise ValueError(f"attack ({attack}) must be < n_samples ({n_samples})")
        shortest = min(p.lo for p in PARAMETERS if p.unit == "ms") * self.sr / 1000.0
        if shortest <= _LN_60_DB:
            raise ValueError(f"sr must be > {_LN_60_DB * 100:g} Hz (10 ms decays), got {sr}")
        gen = torch.Generator().manual_seed(self.noise_seed)
        # 2u - 1 is exact in float32, so the values lie in [-1, 1) exactly.
        noise = 2.0 * torch.rand(self.n_samples, generator=gen) - 1.0
        self.register_buffer("noise", noise, persistent=False)

    def extra_repr(self) -> str:
        return (
            f"sr={self.sr:g}, n_samples={self.n_samples}, noise_seed={self.noise_seed}, "
            f"attack={self.attack}"
        )

    def controls(self, theta: Tensor) -> dict[str, Tensor]:
        """Map ``theta`` ``(batch, 14)`` in [0, 1] to the physical controls of :func:`tr808`.

        Returns:
            One ``(batch,)`` tensor per parameter name of :data:`PARAMETERS` (Hz, ms, dB or
            unit-free), in that order.
        """
        check_theta(theta, self.n_theta)
        return {p.name: p.lo + (p.hi - p.lo) * theta[:, i] for i, p in enumerate(PARAMETERS)}

    def forward(self, theta: Tensor) -> Tensor:
        """Render ``theta`` ``(batch, 14)`` in [0, 1] into ``(batch, 1, n_samples)`` audio."""
        # θ in [0, 1] (checked) maps to decays >= 10 ms, cutoffs >= 20 Hz and Q >= 0.5, in
        # the pure functions' domains (checked once, in __init__): no further value checks.
        controls = self.controls(theta)
        return tr808(
            **controls, noise=self.noise, sr=self.sr, attack=self.attack, check_values=False
        )
