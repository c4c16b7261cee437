"""Multi-scale spectral loss "revisited" (Schwär & Müller, "Multi-scale spectral loss
revisited", 2023), an audio-domain baseline of the SCRAPL sound-matching experiments
(Mitcheltree et al., ICLR 2026).

Compared with the usual DDSP multi-scale spectral (MSS) loss (Hann windows, power-of-two FFT
sizes), this variant uses flat-top windows, odd FFT sizes and a log(1 + ·) magnitude
compression. Exactly what is computed, for signals ``x_hat`` and ``x``::

    for each FFT size n in n_ffts (default 67, 127, 257, 509, 1021, 2053):
        w     = scipy.signal.windows.flattop(n, sym=False)   periodic, length n
        X     = torch.stft(·, n_fft=n, hop_length=n // 2, win_length=n, window=w,
                           center=True, pad_mode="reflect", normalized=False, onesided=True)
        A, B  = log1p(|X(x_hat)| / eps), log1p(|X(x)| / eps)           (batch, C, F, T)
        d_n,b = ||A_b - B_b||_p   (the p-norm over all C * F * T entries of example b;
                                   the Frobenius norm for p = 2)
    loss = mean over examples b of  sum over the FFT sizes of d_n,b

* ``eps = 1`` (default) gives the paper's ``log(1 + |X|)``. Because
  ``log(eps + |X|) = log(eps) + log1p(|X| / eps)``, the loss is the same whether the
  compression is written with an added or a dividing constant.
* Magnitudes are unnormalised ``torch.stft`` outputs (a full-scale sine gives about
  ``0.108 * n`` at its peak, the flat-top coherent gain being 0.2156), so ``eps`` is on that
  scale.
* The norms are not normalised by the number of entries (the paper's published set-up):
  finer scales, with more frames, weigh more. Averaging over examples makes the loss
  independent of the batch size.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import scipy.signal
import torch
from torch import Tensor, nn

from scrapl.validation import check_float, check_matches_buffer, check_positive

_TINY_POWER = 1e-30

__all__ = ["MSSRevisitedLoss", "DEFAULT_N_FFTS"]

DEFAULT_N_FFTS: tuple[int, ...] = (67, 127, 257, 509, 1021, 2053)


class MSSRevisitedLoss(nn.Module):
    """Multi-scale log-magnitude spectral distance with flat-top windows (see module docstring).

    Args:
        n_ffts: FFT sizes (= window lengths), ints >= 2; odd sizes as in the paper by
            default, any size accepted. The hop of each scale is ``n_fft // 2``.
        p: order of the norm of the compressed-magnitude difference, >= 1 (default 2).
        eps: compression constant of ``log1p(|X| / eps)``, > 0 (default 1: ``log(1 + |X|)``).

    Shapes:
        ``forward(x_hat, x)``: two floating tensors of identical shape ``(batch, channels,
        N)`` or ``(batch, N)``, with the module's dtype and device and
        ``N >= max(n_ffts)``. Returns a scalar (unitless), 0 for identical inputs,
        symmetric in its arguments, differentiable w.r.t. both.
    """

    def __init__(
        self, n_ffts: Sequence[int] = DEFAULT_N_FFTS, p: float = 2.0, eps: float = 1.0
    ) -> None:
        super().__init__()
        if isinstance(n_ffts, (str, bytes)) or not isinstance(n_ffts, Sequence):
            raise TypeError(f"n_ffts must be a sequence of ints, got {type(n_ffts).__name__}")
        if len(n_ffts) == 0:
            raise ValueError("n_ffts must hold at least one FFT size, got an empty sequence")
        for n in n_ffts:
            if isinstance(n, bool) or not isinstance(n, numbers.Integral):
                raise TypeError(f"n_ffts must hold ints >= 2, got {n!r} ({type(n).__name__})")
            if n < 2:
                raise ValueError(f"n_ffts must hold ints >= 2, got {n}")
        self.n_ffts = tuple(int(n) for n in n_ffts)
        self.p = check_float("p", p, 1.0, float("inf"))
        self.eps = check_positive("eps", eps)
        # Windows are non-persistent buffers: they follow .to() and stay out of checkpoints.
        for i, n in enumerate(self.n_ffts):
            window = torch.as_tensor(
                scipy.signal.windows.flattop(n, sym=False), dtype=torch.float32
            )
            self.register_buffer(f"window_{i}", window, persistent=False)

    @property
    def hop_lengths(self) -> tuple[int, ...]:
        """Hop of each scale in samples (``n_fft // 2``)."""
        return tuple(n // 2 for n in self.n_ffts)

    def _window(self, i: int) -> Tensor:
        return getattr(self, f"window_{i}")

    def _check(self, x_hat: object, x: object) -> tuple[Tensor, Tensor]:
        ref = self._window(0)
        for name, t in (("x_hat", x_hat), ("x", x)):
            if not isinstance(t, Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
            if t.dim() not in (2, 3):
                raise ValueError(
                    f"{name} must have shape (batch, channels, N) or (batch, N), "
                    f"got {tuple(t.shape)}"
                )
            check_matches_buffer(name, t, ref, "the loss's windows", "the loss")
            if t.numel() == 0:
                raise ValueError(f"{name} must not be empty, got shape {tuple(t.shape)}")
        if x_hat.shape != x.shape:
            raise ValueError(
                f"x_hat and x must have the same shape, got {tuple(x_hat.shape)} and "
                f"{tuple(x.shape)}"
            )
        if x.shape[-1] < max(self.n_ffts):
            raise ValueError(
                f"x_hat and x must have N >= max(n_ffts) = {max(self.n_ffts)} samples, "
                f"got N = {x.shape[-1]}"
            )
        # (batch, N) is one channel; keep the batch axis so norms are per example.
        if x.dim() == 2:
            x_hat, x = x_hat.unsqueeze(1), x.unsqueeze(1)
        return x_hat, x

    def compressed_magnitude(self, signal: Tensor, i: int) -> Tensor:
        """``log1p(|STFT| / eps)`` of ``(batch, C, N)`` audio at scale ``i``, ``(batch, C, F, T)``.

        ``F = n_fft // 2 + 1`` frequency bins, ``T = N // (n_fft // 2) + 1`` frames.
        """
        n = self.n_ffts[i]
        batch, channels, n_samples = signal.shape
        spec = torch.stft(
            signal.reshape(batch * channels, n_samples),
            n_fft=n,
            hop_length=n // 2,
            win_length=n,
            window=self._window(i),
            center=True,
            pad_mode="reflect",
            normalized=False,
            onesided=True,
            return_complex=True,
        )
        # Not spec.abs(): its gradient z / |z| is NaN where |z| underflows to 0 but z does not
        # (bins of ~1e-40, e.g. under a Gaussian window's tails). sqrt(re² + im² + 1e-30) has a
        # finite gradient everywhere, 0 at exact zeros, and differs from |z| by < 1e-15.
        power = torch.view_as_real(spec).square().sum(dim=-1)
        mag = torch.log1p(torch.sqrt(power + _TINY_POWER) / self.eps)
        return mag.reshape(batch, channels, *mag.shape[-2:])

    def forward(self, x_hat: Tensor, x: Tensor) -> Tensor:
        """Scalar loss between ``x_hat`` (prediction) and ``x`` (target); see module docstring."""
        x_hat, x = self._check(x_hat, x)
        per_scale = []
        for i in range(len(self.n_ffts)):
            diff = self.compressed_magnitude(x_hat, i) - self.compressed_magnitude(x, i)
            per_scale.append(torch.linalg.vector_norm(diff.flatten(start_dim=1), self.p, dim=1))
        return torch.stack(per_scale).sum(dim=0).mean()

    def extra_repr(self) -> str:
        return f"n_ffts={self.n_ffts}, p={self.p}, eps={self.eps}"
