"""Differentiable primitives of the transform, with cheaper backward passes than torch's own.

- :func:`modulus`: ``|z|`` of a complex tensor. On CPU from its real and imaginary parts,
  ``sqrt(re² + im²)``: there ``torch.abs`` of a complex tensor calls ``hypot`` element by
  element, several times slower than the fast Fourier transform that produced ``z``, and its
  backward pass recomputes the modulus inside ``torch.sgn``. Gradient ``g · z / |z|`` (zero
  where ``z == 0``, as ``torch.abs``). On other devices ``torch.abs`` itself: a GPU computes
  ``hypot`` at memory speed, and one kernel moves less memory than three.
- :func:`rfft_bins`: the first ``n_bins`` bins of ``torch.fft.rfft``. Its backward pass is one
  inverse real FFT of the gradient; torch's backward of ``rfft`` pads the gradient to a full
  complex spectrum and runs a complex FFT of it, about twice the work. Truncating to the bins
  a later filter reads also keeps the rest of the spectrum out of memory.

Both backward passes are made of differentiable operations, so second derivatives
(Hessian-vector products of the θ-IS warmup) flow through them.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def _modulus_values(z: Tensor) -> Tensor:
    parts = torch.view_as_real(z)
    re, im = parts[..., 0], parts[..., 1]
    return torch.mul(re, re).addcmul_(im, im).sqrt_()  # one allocation


def modulus_grad(z: Tensor, g: Tensor) -> Tensor:
    """Gradient of ``|z|`` for a real upstream gradient ``g``: ``g · z / |z|``, 0 where
    ``z == 0``. Differentiable in ``z`` and ``g`` when grad mode is on."""
    if z.device.type != "cpu":
        return torch.sgn(z) * g  # as torch.abs's backward
    # Real to complex, then complex times complex: faster than torch's mixed-type product.
    if torch.is_grad_enabled():  # a graph of the gradient is being built: exact at z == 0
        u = modulus(z)
        # inf, not 0, where u == 0: g / inf = 0 exactly and its derivatives stay finite.
        return z * (g / u.masked_fill(u == 0, math.inf)).to(z.dtype)
    # Clamps instead of a mask (a mask costs more than the rest): where u == 0, z == 0 and
    # the bounded ratio gives 0. Elsewhere exact unless |z| is below float range (denormal).
    # In place on one fresh buffer: every new large tensor costs page faults too.
    tiny = torch.finfo(g.dtype).tiny
    w = _modulus_values(z).clamp_min_(tiny)
    torch.div(g, w, out=w).clamp_(-1 / tiny, 1 / tiny)
    return w.to(z.dtype).mul_(z)


class _Modulus(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z: Tensor) -> Tensor:
        ctx.save_for_backward(z)
        return _modulus_values(z)

    @staticmethod
    def backward(ctx, g: Tensor) -> Tensor:
        # |z| is recomputed (a cheap pass) rather than kept: a third less memory per input.
        (z,) = ctx.saved_tensors
        return modulus_grad(z, g)


def modulus(z: Tensor) -> Tensor:
    """``|z|`` of a complex tensor, same shape, real dtype of matching precision."""
    return _Modulus.apply(z) if z.device.type == "cpu" else z.abs()


def _truncated_rfft(u: Tensor, n_bins: int) -> Tensor:
    spectrum = torch.fft.rfft(u)
    if n_bins >= spectrum.shape[-1]:
        return spectrum
    return spectrum[..., :n_bins].clone()  # a view would keep the whole spectrum alive


def rfft_adjoint(g: Tensor, n: int) -> Tensor:
    """Adjoint of the one-sided DFT of real signals of length ``n``, restricted to the first
    ``g.shape[-1]`` bins: ``Re Σ_k g_k exp(2iπkt/n)``, real, length ``n``."""
    # An inverse real FFT counts every bin but 0 and Nyquist twice (once for -k): halve them.
    h = g * 0.5
    h[..., 0] = g[..., 0]
    if n % 2 == 0 and g.shape[-1] == n // 2 + 1:
        h[..., -1] = g[..., -1]
    return torch.fft.irfft(h, n=n, norm="forward")


class _RFFTBins(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u: Tensor, n_bins: int) -> Tensor:
        ctx.n = u.shape[-1]
        return _truncated_rfft(u, n_bins)

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple[Tensor, None]:
        return rfft_adjoint(g, ctx.n), None


def rfft_bins(u: Tensor, n_bins: int) -> Tensor:
    """``torch.fft.rfft(u)[..., :n_bins]`` (last axis; all bins if ``n_bins`` is larger)."""
    return _RFFTBins.apply(u, n_bins)
