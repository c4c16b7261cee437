"""Constant-Q transform front end of the SCRAPL encoder (Mitcheltree et al., ICLR 2026, §4).

The sound-matching encoder never sees raw audio: it reads the log-compressed magnitude of a
constant-Q transform (CQT), 5 octaves × 12 bins at hop 256 for the 8192 Hz, 32768-sample
granular/chirplet tasks, i.e. a ``60 × 129`` image per example. This module computes::

    features = log1p(|CQT(audio)| / eps)            (batch, n_octaves * bins_per_octave, n_frames)

with ``n_frames = N // hop_length + 1`` for an ``N``-sample input.

The CQT itself is nnAudio's ``CQT1992v2`` (time-domain complex kernels applied by strided
``conv1d``) with its defaults: periodic Hann kernels, L1 kernel normalisation, librosa-style
output scaling (× sqrt(kernel length)), kernels centred on each frame and reflect padding of
half the longest kernel at both ends. Bin ``k`` is centred at ``fmin * 2 ** (k /
bins_per_octave)`` Hz.

Default ``fmin``: ``0.4 * sr / 2 ** n_octaves``, the published set-up's rule (102.4 Hz for
8192 Hz and 5 octaves, bin centres 102.4 Hz ... 3093 Hz; 34.45 Hz for 9 octaves at 44.1 kHz):
the top octave ends at 0.4 sr, below Nyquist. An explicit ``fmin`` must satisfy
``fmin * 2 ** n_octaves <= sr / 2`` so that no bin lies above Nyquist.

Two deliberate departures from calling nnAudio as-is:

* The kernels are non-persistent buffers: they move with ``.to(device / dtype)``, never show
  up in ``.parameters()`` (so optimisers and parameter counts ignore them) and are left out
  of ``state_dict()`` (they are a deterministic function of the constructor arguments, so
  checkpoints hold only learned weights and do not depend on the nnAudio version).
* The magnitude is taken from nnAudio's complex output with ``torch.linalg.vector_norm``,
  whose gradient at an exactly-zero coefficient is 0. nnAudio's own ``"Magnitude"`` output is
  ``sqrt(re² + im²)``, whose gradient there is NaN (``inf · 0``), which would poison the
  gradient of a whole example that contains digital silence. Forward values agree up to rounding.
"""

from __future__ import annotations

import torch
from nnAudio.features import CQT1992v2
from torch import Tensor, nn

from scrapl.validation import check_int, check_matches_buffer, check_positive

__all__ = ["CQTFeatures"]

# Names of nnAudio's CQT1992v2 tensors (sic: "lenghts" is nnAudio's spelling).
_CQT_TENSORS = ("cqt_kernels_real", "cqt_kernels_imag", "lenghts")


class CQTFeatures(nn.Module):
    """Audio -> ``log1p(|CQT| / eps)`` features for the CNN encoder (see module docstring).

    Args:
        sr: sample rate in Hz.
        n_octaves: number of octaves analysed (paper: 5 for granular/chirplet, 9 for TR-808).
        bins_per_octave: CQT bins per octave (paper: 12).
        hop_length: frame hop in samples (paper: 256).
        fmin: centre frequency of the lowest bin in Hz; ``None`` (default) is
            ``0.4 * sr / 2 ** n_octaves`` (102.4 Hz for the defaults). Must satisfy
            ``fmin * 2 ** n_octaves <= sr / 2``.
        eps: magnitude scale of the log compression (unitless, > 0): magnitudes well below
            ``eps`` are mapped near-linearly, those above it logarithmically.

    Shapes:
        ``forward(audio)``: ``audio`` is ``(batch, 1, N)`` or ``(batch, N)`` floating-point
        samples with the dtype and device of the module, ``N > min_samples``. Returns
        ``(batch, n_bins, N // hop_length + 1)`` unitless non-negative features, with
        ``n_bins = n_octaves * bins_per_octave`` (60 × 129 for the defaults at N = 32768).
        Each example is transformed independently; differentiable w.r.t. ``audio``.
    """

    def __init__(
        self,
        sr: int = 8192,
        n_octaves: int = 5,
        bins_per_octave: int = 12,
        hop_length: int = 256,
        fmin: float | None = None,
        eps: float = 1e-3,
    ) -> None:
        super().__init__()
        self.sr = check_int("sr", sr, 1)
        self.n_octaves = check_int("n_octaves", n_octaves, 1)
        self.bins_per_octave = check_int("bins_per_octave", bins_per_octave, 1)
        self.hop_length = check_int("hop_length", hop_length, 1)
        nyquist = self.sr / 2
        if fmin is None:
            fmin = 0.4 * self.sr / 2**self.n_octaves
        self.fmin = check_positive("fmin", fmin)
        # Relative tolerance so that the default (exactly at Nyquist) never fails on rounding.
        if self.fmin * 2**self.n_octaves > nyquist * (1 + 1e-9):
            raise ValueError(
                f"fmin must satisfy fmin * 2**n_octaves <= sr / 2 (no bin above Nyquist), got "
                f"fmin={self.fmin} Hz, n_octaves={self.n_octaves}: top edge "
                f"{self.fmin * 2**self.n_octaves} Hz > {nyquist} Hz"
            )
        self.eps = check_positive("eps", eps)
        self.n_bins = self.n_octaves * self.bins_per_octave

        self.cqt = CQT1992v2(
            sr=self.sr,
            hop_length=self.hop_length,
            fmin=self.fmin,
            n_bins=self.n_bins,
            bins_per_octave=self.bins_per_octave,
            trainable=False,
            output_format="Complex",  # magnitude taken here, see module docstring
            verbose=False,
        )
        # Re-register nnAudio's kernels as non-persistent buffers whatever nnAudio made them
        # (buffers in 0.3.4 with trainable=False; parameters in other set-ups).
        for name in _CQT_TENSORS:
            tensor = getattr(self.cqt, name).detach()
            delattr(self.cqt, name)
            self.cqt.register_buffer(name, tensor, persistent=False)

    @property
    def kernel_width(self) -> int:
        """Length in samples of the longest (lowest-frequency) CQT kernel (a power of two)."""
        return int(self.cqt.kernel_width)

    @property
    def min_samples(self) -> int:
        """Inputs need ``N > min_samples`` (= ``kernel_width // 2``, the reflect padding)."""
        return self.kernel_width // 2

    @property
    def frequencies(self) -> Tensor:
        """Centre frequencies in Hz of the ``n_bins`` bins, ``(n_bins,)`` float64 on CPU."""
        k = torch.arange(self.n_bins, dtype=torch.float64)
        return self.fmin * 2.0 ** (k / self.bins_per_octave)

    def n_frames(self, n_samples: int) -> int:
        """Number of output frames for an ``n_samples``-long input."""
        return check_int("n_samples", n_samples, 1) // self.hop_length + 1

    def _check_audio(self, audio: object) -> Tensor:
        if not isinstance(audio, Tensor):
            raise TypeError(f"audio must be a torch.Tensor, got {type(audio).__name__}")
        if audio.dim() == 3 and audio.shape[1] == 1:
            audio = audio[:, 0]
        elif audio.dim() != 2:
            raise ValueError(
                f"audio must have shape (batch, 1, N) or (batch, N), got {tuple(audio.shape)}"
            )
        kernels = self.cqt.cqt_kernels_real
        check_matches_buffer("audio", audio, kernels, "the CQT kernels", "the module")
        if audio.shape[0] < 1:
            raise ValueError(f"audio must have a non-empty batch, got {tuple(audio.shape)}")
        if audio.shape[-1] <= self.min_samples:
            raise ValueError(
                f"audio must have more than {self.min_samples} samples (half the longest CQT "
                f"kernel, used as reflect padding), got {audio.shape[-1]}"
            )
        return audio

    def forward(self, audio: Tensor) -> Tensor:
        """``log1p(|CQT(audio)| / eps)`` of shape ``(batch, n_bins, n_frames)``."""
        audio = self._check_audio(audio)
        # nnAudio's complex output stacks (real, imag) in the last axis.
        parts = self.cqt(audio.unsqueeze(1))
        magnitude = torch.linalg.vector_norm(parts, dim=-1)
        return torch.log1p(magnitude / self.eps)

    def extra_repr(self) -> str:
        top = self.fmin * 2 ** ((self.n_bins - 1) / self.bins_per_octave)
        return (
            f"sr={self.sr}, n_octaves={self.n_octaves}, bins_per_octave={self.bins_per_octave}, "
            f"hop_length={self.hop_length}, bins={self.fmin:.6g}..{top:.6g} Hz, eps={self.eps}"
        )
