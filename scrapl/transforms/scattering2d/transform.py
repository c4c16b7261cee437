"""Image scattering in torch, one path at a time or all paths sharing work.

The computation of kymatio 0.3's ``Scattering2D`` (Bruna & Mallat, "Invariant scattering
convolution networks", IEEE TPAMI 2013) with its conventions:

1. reflect-pad the ``(M, N)`` image to the padded grid; ``U1 = |x ∗ ψ_{j1,θ1}|``, filtered
   in the Fourier domain and subsampled by ``2**j1`` (the mean of the spectrum's periods);
2. at order 2, ``U2 = |U1 ∗ ψ_{j2,θ2}|`` subsampled by ``2**j2`` in all;
3. average with the Gaussian low-pass, subsample to ``2**J`` and drop the outer ring of
   output pixels.

A path needs one first-order and at most one second-order convolution. The low-pass is
separable, so the averaging, subsampling and crop are two small matrix products (rows, then
columns) instead of two FFTs. Output of a path: ``(batch, M_out, N_out)`` real, kymatio's
channel ``path_idx + 1``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

from scrapl.transforms.base import PathTransform
from scrapl.transforms.morlet import decimated_convolution_matrix
from scrapl.transforms.primitives import modulus
from scrapl.transforms.scattering2d.config import Scattering2DConfig
from scrapl.transforms.scattering2d.filters import (
    crop_spectrum,
    lowpass_factors,
    padded_shape,
    padding_index,
    wavelet,
)
from scrapl.transforms.scattering2d.paths import Path2D, enumerate_paths


def fold(z: Tensor, log2_factor: int) -> Tensor:
    """The sum of the ``2**log2_factor`` × ``2**log2_factor`` periods of spectra given as real
    views ``(..., m, n, 2)``: times ``4**-log2_factor`` (folded into the filters), the
    spectrum of the image subsampled by ``2**log2_factor`` along both axes."""
    if log2_factor == 0:
        return z
    k = 2**log2_factor
    m, n = z.shape[-3:-1]
    # Rows, then columns: each a sum over whole contiguous blocks (one reduction over both
    # period axes at once is a strided one, ten times slower on CPU).
    z = z.reshape(*z.shape[:-3], k, m // k, n, 2).sum(dim=-4)
    return z.reshape(*z.shape[:-2], k, n // k, 2).sum(dim=-3)


class Scattering2D(PathTransform):
    """Second-order image scattering, evaluated path by path.

    Args:
        config: the hyperparameters (:class:`scrapl.transforms.scattering2d.Scattering2DConfig`).

    Attributes:
        padded: the padded grid ``(M_padded, N_padded)``.
        out_shape: ``(M_out, N_out)`` of every path's coefficients.
        paths: every path in index order (:class:`scrapl.transforms.scattering2d.paths.Path2D`).
        n_paths: number of paths.
    """

    def __init__(self, config: Scattering2DConfig) -> None:
        super().__init__()
        self.config = config
        self.signal_shape = config.shape
        (m, n), J, L = config.shape, config.J, config.L
        self.padded = padded_shape(m, n, J)
        self.out_shape = (self.padded[0] // 2**J - 2, self.padded[1] // 2**J - 2)
        self.paths: list[Path2D] = enumerate_paths(J, L)
        self.n_paths = len(self.paths)
        self.n_wavelets = J * L
        self.has_children = [path.j1 < J - 1 for path in self.paths[: self.n_wavelets]]
        rows = torch.as_tensor(padding_index(m, self.padded[0]))
        cols = torch.as_tensor(padding_index(n, self.padded[1]))
        self.register_buffer("pad_rows", rows, persistent=False)
        self.register_buffer("pad_cols", cols, persistent=False)
        # Wavelet (j, θ) is applied at full resolution (order 1) and, at order 2, to first
        # orders subsampled by 2**j1 for every j1 < j.
        for n_psi in range(self.n_wavelets):
            j, theta = divmod(n_psi, L)
            psi = wavelet(*self.padded, j, theta, L, list(range(max(j, 1))))
            for k, level in psi.levels.items():
                # Applied at resolution k, then subsampled to resolution j (the wavelet's
                # own): the mean of the 4**(j - k) periods is their sum times this.
                self._register(f"psi_{n_psi}_{k}", level * 4.0 ** (k - j))
        phi_rows, phi_cols = lowpass_factors(*self.padded, J)
        for level in range(J):
            # Rows, then columns: the decimated, cropped convolution by each 1-D factor.
            for axis, phi in (("rows", phi_rows), ("cols", phi_cols)):
                phi_k = crop_spectrum(phi, level, axes=(0,))
                mat = decimated_convolution_matrix(phi_k, len(phi_k), J - level)
                self._register(f"avg_{axis}_{level}", mat[:, 1:-1].real)

    def _register(self, name: str, array: np.ndarray) -> None:
        # Non-persistent: filters are rebuilt from the configuration, never checkpointed.
        self.register_buffer(name, torch.as_tensor(array, dtype=torch.float32), persistent=False)

    # -- stages -------------------------------------------------------------------------

    def pad(self, x: Tensor) -> Tensor:
        """Reflect-pad ``(batch, M, N)`` images to ``(batch, *padded)``."""
        return x.index_select(-2, self.pad_rows).index_select(-1, self.pad_cols)

    def wavelet_modulus(self, spectrum: Tensor, n_psi: int, k_in: int) -> Tensor:
        """``|u ∗ ψ_n|`` subsampled by ``2**j`` in all (``j``: the wavelet's scale), from the
        spectrum of ``u``, an image subsampled by ``2**k_in``."""
        # Real views: a complex tensor times a real one is several times slower on CPU.
        z = torch.view_as_real(spectrum) * getattr(self, f"psi_{n_psi}_{k_in}").unsqueeze(-1)
        z = fold(z, n_psi // self.config.L - k_in)
        return modulus(torch.fft.ifft2(torch.view_as_complex(z.contiguous())))

    def first_order(self, x_spectrum: Tensor, path: Path2D) -> Tensor:
        """``U1`` of the path's first wavelet, ``(batch, M_padded >> j1, N_padded >> j1)``."""
        return self.wavelet_modulus(x_spectrum, path.n1, 0)

    def second_order(self, u1_spectrum: Tensor, path: Path2D) -> Tensor:
        """``U2`` of an order-2 path from the spectrum of its ``U1``."""
        return self.wavelet_modulus(u1_spectrum, path.n2, path.j1)

    def average(self, u: Tensor, level: int) -> Tensor:
        """``u ∗ φ`` (``u`` subsampled by ``2**level``) at the output rate, cropped."""
        rows = getattr(self, f"avg_rows_{level}")
        cols = getattr(self, f"avg_cols_{level}")
        return rows.transpose(0, 1) @ u @ cols

    # -- public API ---------------------------------------------------------------------

    @property
    def reference(self) -> Tensor:
        return self.avg_rows_0

    def describe(self) -> str:
        return self.config.describe()

    def forward(self, x: Tensor, path_idx: int) -> Tensor:
        """Coefficients of one path: ``(batch, M, N)`` → ``(batch, M_out, N_out)``."""
        path = self.paths[self.check_path_idx(path_idx)]
        u1 = self.first_order(torch.fft.fft2(self.pad(x)), path)
        if path.n2 is None:
            return self.average(u1, path.j1)
        return self.average(self.second_order(torch.fft.fft2(u1), path), path.j2)

    def all_paths(self, x: Tensor) -> Iterator[tuple[int, Tensor]]:
        """Yield ``(path_idx, coefficients)`` for every path in index order, sharing work:
        the padded image's spectrum once, each ``U1`` and its spectrum once."""
        x_spectrum = torch.fft.fft2(self.pad(x))
        u1_spectra: dict[int, Tensor] = {}
        for path in self.paths:
            if path.n2 is None:
                u1 = self.first_order(x_spectrum, path)
                yield path.idx, self.average(u1, path.j1)
                if self.has_children[path.n1]:
                    u1_spectra[path.n1] = torch.fft.fft2(u1)
            else:
                u1_spectrum = u1_spectra[path.n1]
                yield path.idx, self.average(self.second_order(u1_spectrum, path), path.j2)
