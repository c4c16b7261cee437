"""Differentiable primitives of the transforms, with cheaper backward passes than torch's own.

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

Exactness of the modulus on the whole float range. ``re² + im²`` leaves the normal range of
the dtype when ``|z|`` is below ``2**-63`` (float32; ``2**-511`` in float64) or above ``2**64``
(``2**512``): the squares lose bits or underflow to 0, or overflow to inf, and quiet audio
(−60 dB and below) has many such coefficients. The fast CPU path therefore checks the range of
the squares with one reduction (``aminmax``, no extra allocation) and, only for the elements
outside it, recomputes from components scaled by an exact power of two
(:func:`_scaled_squares`). The graph mode (second derivatives) uses the scaled form on every
element. Both give ``|z|`` and ``z / |z|`` to float rounding from the smallest denormal to the
largest float, and agree with each other; multiplying ``z`` by a power of two changes nothing
but the result's exponent.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import torch
from torch import Tensor


@contextlib.contextmanager
def full_precision(device: torch.device) -> Iterator[None]:
    """Autocast off on ``device``: the transforms compute in their own dtype (float32, or
    float64), whatever a caller's ``torch.autocast`` region says."""
    if torch.amp.is_autocast_available(device.type):
        with torch.autocast(device_type=device.type, enabled=False):
            yield
    else:
        yield


def _range(dtype: torch.dtype) -> tuple[float, float, float]:
    """``(low, big, exponent)``: a sum of squares in ``[low, big]`` is exact to rounding
    (``low = tiny / eps``: a square below ``tiny``, whose last bits are lost as a denormal,
    then weighs less than one rounding of the sum); elements outside are scaled by
    ``2**±exponent``, which brings every representable ``|z|`` into the range where its
    square is normal (float32: ``[2**-149, 2**128]`` → ``[2**-49, 2**29]``)."""
    info = torch.finfo(dtype)
    return info.tiny / info.eps, info.max, 100.0 if info.bits == 32 else 600.0


def _scaled_squares(parts: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(scale z, |scale z|², scale)`` of ``z`` given as ``view_as_real`` parts ``(..., 2)``:
    the parts are multiplied by ``scale``, an exact power of two (2**e for tiny values, 2**-e
    for huge ones, 1 otherwise), so that the square is a normal float on the whole range and
    ``|z| = |scale z| / scale`` is exact to rounding. Differentiable in ``parts`` (``scale`` is
    a constant)."""
    _, _, e = _range(parts.dtype)
    with torch.no_grad():
        a = parts.abs().amax(dim=-1)
        scale = torch.ones_like(a)
        scale.masked_fill_(a < 2.0 ** -(e / 2 + 10), 2.0**e)
        scale.masked_fill_(a > 2.0 ** (e / 2 + 10), 2.0**-e)
    scaled = parts * scale.unsqueeze(-1)
    return scaled, scaled.square().sum(dim=-1), scale


def _phase(z: Tensor) -> Tensor:
    """``z / |z|`` (0 where ``z == 0``), exact on the whole float range, differentiable."""
    scaled, squares, _ = _scaled_squares(torch.view_as_real(z))
    zero = squares == 0
    # inf, not 0, where |z| == 0: 0 / inf = 0 exactly; and sqrt is taken of 1 there, so that
    # its infinite derivative at 0 never meets the zero gradient (0 · inf = NaN).
    denom = squares.masked_fill(zero, 1.0).sqrt().masked_fill(zero, math.inf)
    return torch.view_as_complex(scaled / denom.unsqueeze(-1))


def _squares(z: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
    """``re² + im²`` of ``z`` (a fresh buffer), the parts, and the mask of elements whose
    square is not a normal float (None when there are none: the common case)."""
    parts = torch.view_as_real(z)
    re, im = parts[..., 0], parts[..., 1]
    s = torch.mul(re, re).addcmul_(im, im)  # one allocation
    low, big, _ = _range(s.dtype)
    lo, hi = torch.aminmax(s)  # one read pass; NaN fails both tests below
    if bool(lo >= low) and bool(hi <= big):
        return s, parts, None
    return s, parts, ~((s >= low) & (s <= big))


def _modulus_values(z: Tensor) -> Tensor:
    s, parts, bad = _squares(z)
    u = s.sqrt_()
    if bad is not None:
        _, squares, scale = _scaled_squares(parts[bad])
        u[bad] = squares.sqrt() / scale  # rounded once, where the result is a denormal
    return u


def modulus_grad(z: Tensor, g: Tensor) -> Tensor:
    """Gradient of ``|z|`` for a real upstream gradient ``g``: ``g · z / |z|``, 0 where
    ``z == 0``. Differentiable in ``z`` and ``g`` when grad mode is on. Exact on the whole
    float range of ``z`` (for ``|g| < 2**64``)."""
    if z.device.type != "cpu":
        return torch.sgn(z) * g  # as torch.abs's backward
    if torch.is_grad_enabled():  # a graph of the gradient is being built
        return _phase(z) * g.to(z.dtype)
    # In place on one fresh buffer: every new large tensor costs page faults too.
    s, parts, bad = _squares(z)
    w = s.rsqrt_()
    torch.mul(g, w, out=w)
    if bad is not None:
        w[bad] = 0.0  # filled below
    # Real to complex, then complex times complex: faster than torch's mixed-type product.
    out = w.to(z.dtype).mul_(z)
    if bad is not None:
        out[bad] = _phase(z[bad]) * g[bad].to(z.dtype)
    return out


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
