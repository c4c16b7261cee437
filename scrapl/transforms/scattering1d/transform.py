"""Time scattering in torch, one path at a time or all paths sharing work.

The computation of kymatio 0.3's ``Scattering1D`` (Andén & Mallat, "Deep scattering
spectrum", IEEE TSP 2014) with its conventions (oversampling 0, averaging on):

1. reflect-pad to ``n_padded`` samples; ``U1 = |x ∗ ψ1|`` subsampled by ``2**k1``,
   ``k1 = min(j1, log2_T)``;
2. at order 2, ``U2 = |U1 ∗ ψ2|`` subsampled by ``2**k2`` more;
3. average with the low-pass φ, subsample to ``2**log2_T`` and crop to the signal's samples.

A path needs one first-order and at most one second-order convolution. Wavelets are applied
on their window of bins (:mod:`scrapl.transforms.windowed`); the averaging is a matrix product
with the decimated, cropped low-pass when that matrix is small, else an FFT. Output of a path:
``(batch, n_time)`` real, kymatio's row ``path_idx + 1``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as nnf
from torch import Tensor

from scrapl.transforms.base import PathTransform
from scrapl.transforms.morlet import decimated_convolution_matrix
from scrapl.transforms.primitives import modulus, rfft_bins
from scrapl.transforms.scattering1d.config import Scattering1DConfig
from scrapl.transforms.scattering1d.filters import build_filterbank, design, level
from scrapl.transforms.scattering1d.paths import Path, enumerate_paths
from scrapl.transforms.windowed import filter_window, window_to_time
from scrapl.transforms.windows import window_plan

MAX_MATRIX_ELEMENTS = 2**22  # averaging matrices up to 16 MB in float32; an FFT beyond


class Scattering1D(PathTransform):
    """Second-order time scattering, evaluated path by path.

    Args:
        config: the hyperparameters (:class:`scrapl.transforms.scattering1d.Scattering1DConfig`).

    Attributes:
        bank: the filter bank's metadata (wavelets, padding, crop).
        paths: every path in index order (:class:`scrapl.transforms.scattering1d.paths.Path`).
        n_paths: number of paths.
        n_time: samples per path at the output rate.
    """

    def __init__(self, config: Scattering1DConfig) -> None:
        super().__init__()
        self.config = config
        self.signal_shape = (config.shape,)
        self.bank = build_filterbank(config.shape, config.J, config.Q1, config.Q2, config.averaging)
        self.paths: list[Path] = enumerate_paths(self.bank)
        self.n_paths = len(self.paths)
        self.n_time = self.bank.crop_end - self.bank.crop_start
        self._build_buffers()

    def _build_buffers(self) -> None:
        bank = self.bank
        n = bank.n_padded
        # First order: each ψ1 on its window of the padded signal's half spectrum.
        self.psi1_width: list[int] = []
        n_src = 1
        for n1, w in enumerate(bank.psi1):
            k1 = self.paths[n1].k1
            plan = window_plan([design(n, w.xi, w.sigma)], n >> k1)
            self._register_plan(f"psi1_{n1}", plan.src, plan.value)
            self.psi1_width.append(plan.width)
            n_src = max(n_src, plan.n_src)
        self.x_bins = n_src
        # Second order: ψ2 at the resolution of its input, one plan per (n2, k1).
        self.psi2_bins: dict[tuple[int, int], int] = {}
        self.u1_bins = [0] * len(bank.psi1)  # bins of U1's half spectrum that ψ2s read
        for p in self.paths[len(bank.psi1) :]:
            key = (p.n2, p.k1)
            if key not in self.psi2_bins:
                w = bank.psi2[p.n2]
                plan = window_plan([level(design(n, w.xi, w.sigma), p.k1)], n >> p.level)
                if plan.n_src > (n >> p.k1) // 2 + 1:
                    raise ValueError(f"psi2 {p.n2}: window wider than the half spectrum")
                self._register_plan(f"psi2_{p.n2}_{p.k1}", plan.src, plan.value)
                self.psi2_bins[key] = plan.n_src
            self.u1_bins[p.n1] = max(self.u1_bins[p.n1], self.psi2_bins[key])
        # Averaging at every level a path ends at.
        phi = design(n, 0.0, bank.sigma_low)
        self.avg_by_matrix: dict[int, bool] = {}
        for r in sorted({p.level for p in self.paths}):
            phi_r = level(phi, r)
            m, f = n >> r, bank.log2_T - r
            if m * self.n_time <= MAX_MATRIX_ELEMENTS:
                mat = decimated_convolution_matrix(phi_r, m, f)
                self._register(f"avg_{r}", mat[:, bank.crop_start : bank.crop_end].real)
            else:
                # The real part of a product with a Hermitian spectrum keeps only the even
                # part of φ: an inverse real FFT of the half spectrum times it.
                even = (phi_r + phi_r[-np.arange(m) % m]) / 2
                self._register(f"phi_{r}", even[: m // 2 + 1])
            self.avg_by_matrix[r] = m * self.n_time <= MAX_MATRIX_ELEMENTS

    def _register_plan(self, name: str, src: np.ndarray, value: np.ndarray) -> None:
        self.register_buffer(f"{name}_src", torch.as_tensor(src.reshape(-1)), persistent=False)
        self._register(f"{name}_value", value.reshape(-1, 2))

    def _register(self, name: str, array: np.ndarray) -> None:
        # Non-persistent: filters are rebuilt from the configuration, never checkpointed.
        self.register_buffer(name, torch.as_tensor(array, dtype=torch.float32), persistent=False)

    # -- stages -------------------------------------------------------------------------

    def pad(self, x: Tensor) -> Tensor:
        """Reflect-pad ``(batch, N)`` signals to ``(batch, n_padded)``."""
        left = self.bank.pad_left
        right = self.bank.n_padded - self.bank.n - left
        return nnf.pad(x.unsqueeze(1), (left, right), mode="reflect").squeeze(1)

    def spectrum(self, x: Tensor) -> Tensor:
        """Half spectrum of the padded signals, up to the bins the first order reads."""
        return rfft_bins(self.pad(x), self.x_bins)

    def first_order(self, x_half: Tensor, n1: int) -> Tensor:
        """``U1 = |x ∗ ψ1|`` of row ``n1`` subsampled by ``2**k1``: ``(batch, n_padded >> k1)``."""
        windows = filter_window(x_half, getattr(self, f"psi1_{n1}_src"), self._value(f"psi1_{n1}"))
        return modulus(window_to_time(windows, self.bank.n_padded >> self.paths[n1].k1))

    def second_order(self, u1_half: Tensor, path: Path) -> Tensor:
        """``U2 = |U1 ∗ ψ2|`` subsampled by ``2**(k1 + k2)``, from ``U1``'s half spectrum
        (at least the path's :meth:`u1_spectrum_bins`)."""
        name = f"psi2_{path.n2}_{path.k1}"
        windows = filter_window(u1_half, getattr(self, f"{name}_src"), self._value(name))
        return modulus(window_to_time(windows, self.bank.n_padded >> path.level))

    def average(self, u: Tensor, r: int) -> Tensor:
        """``u ∗ φ`` (``u`` subsampled by ``2**r``) at the output rate, cropped: ``(batch,
        n_time)``."""
        if self.avg_by_matrix[r]:
            return u @ getattr(self, f"avg_{r}")
        f = 2 ** (self.bank.log2_T - r)
        phi = getattr(self, f"phi_{r}")
        y = torch.fft.irfft(rfft_bins(u, phi.shape[-1]) * phi, n=u.shape[-1])
        return y[..., self.bank.crop_start * f : self.bank.crop_end * f : f]

    def _value(self, name: str) -> Tensor:
        value = getattr(self, f"{name}_value")
        return value.view(-1, 2)

    # -- public API ---------------------------------------------------------------------

    @property
    def reference(self) -> Tensor:
        return self.psi1_0_value

    def describe(self) -> str:
        return self.config.describe()

    def forward(self, x: Tensor, path_idx: int) -> Tensor:
        """Coefficients of one path: ``(batch, N)`` → ``(batch, n_time)``."""
        path = self.paths[self.check_path_idx(path_idx)]
        u1 = self.first_order(self.spectrum(x), path.n1)
        if path.n2 is None:
            return self.average(u1, path.k1)
        u1_half = rfft_bins(u1, self.psi2_bins[(path.n2, path.k1)])
        return self.average(self.second_order(u1_half, path), path.level)

    def all_paths(self, x: Tensor) -> Iterator[tuple[int, Tensor]]:
        """Yield ``(path_idx, coefficients)`` for every path in index order, sharing work:
        the padded spectrum once, each ``U1`` and its spectrum once."""
        x_half = self.spectrum(x)
        u1_halves: dict[int, Tensor] = {}
        for path in self.paths:
            if path.n2 is None:
                u1 = self.first_order(x_half, path.n1)
                yield path.idx, self.average(u1, path.k1)
                if self.u1_bins[path.n1]:
                    u1_halves[path.n1] = rfft_bins(u1, self.u1_bins[path.n1])
            else:
                u1_half = u1_halves[path.n1][..., : self.psi2_bins[(path.n2, path.k1)]]
                yield path.idx, self.average(self.second_order(u1_half, path), path.level)
