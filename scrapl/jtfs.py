"""Joint time–frequency scattering in torch: one path at a time, or all paths sharing work.

Signals are ``(batch, N)`` real tensors (the loss folds channels into the batch). The
computation of path ``(n2, n_fr)`` (Andén, Lostanlen & Mallat, IEEE TSP 2019), with the
conventions of the reference implementation (kymatio's JTFS):

1. reflect-pad to ``n_padded`` samples; first order ``U1(λ1, t) = |x ∗ ψλ1|`` for the rows
   ``λ1`` finer than ψ2, each subsampled by ``2**min(j1, log2_T)``;
2. ``Y2(λ1, t) = U1 ∗ ψ2`` along time, subsampled to ``2**min(j2, log2_T)``;
3. zero-pad ``Y2`` along λ1 to ``n_fr_padded`` rows and filter with ψfr (or the frequential
   low-pass) along λ1, subsampled by ``2**min(j_fr, log2_F)``; modulus;
4. average in time with φT and, unless the frequential filter was the low-pass, in
   frequency with φF. Coefficients cover the whole padded grid (nothing is cropped).

Temporal wavelets are applied in the Fourier domain, on the few bins where they are not
negligible (:class:`scrapl.filters.BandPlan`); the short frequential axis and the heavily
decimated averaging use matrix products (:mod:`scrapl.frequential`). Filters are buffers,
so ``.to(device)`` and ``.double()`` move and cast them. Output of a path:
``(batch, n_freq, n_time)`` real coefficients.
"""

from __future__ import annotations

import ctypes
import numbers
import sys
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from scrapl.config import JTFSConfig
from scrapl.filters import (
    BandPlan,
    FilterBank,
    band_plan,
    build_filterbank,
    decimated_convolution_matrix,
)
from scrapl.frequential import scatter_modulus_average
from scrapl.paths import Path, enumerate_paths


def _return_freed_memory_to_os() -> None:
    """Give the heap freed by filter design back to the OS (glibc keeps it otherwise).

    Designing a bank allocates many large, short-lived arrays; glibc's adaptive mmap
    threshold serves them from the heap and keeps the pages (~70 MB at N = 32768).
    """
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc: nothing to do
            pass


def subsample_fourier(x_hat: Tensor, log2_factor: int) -> Tensor:
    """Spectrum of the signal subsampled by ``2**log2_factor`` (last axis): mean of periods."""
    if log2_factor == 0:
        return x_hat
    n = x_hat.shape[-1]
    return x_hat.reshape(*x_hat.shape[:-1], 2**log2_factor, n >> log2_factor).mean(dim=-2)


def lowpass(x: Tensor, phi_hat: Tensor, log2_factor: int) -> Tensor:
    """Convolve the real last axis of ``x`` with a real, symmetric low-pass and subsample."""
    y_hat = torch.fft.fft(x) * phi_hat
    return torch.fft.ifft(subsample_fourier(y_hat, log2_factor)).real


MAX_MATRIX_ELEMENTS = 2**22  # 16 MB in float32


class JTFS(nn.Module):
    """Second-order joint time–frequency scattering, evaluated path by path.

    Args:
        config: the transform's hyperparameters (:class:`scrapl.config.JTFSConfig`).

    Attributes:
        paths: every path, in index order (:class:`scrapl.paths.Path`).
        n_paths: number of paths.
    """

    def __init__(self, config: JTFSConfig) -> None:
        super().__init__()
        self.config = config
        T = 2**config.J if config.T in (None, "global") else config.T
        F = 2**config.J_fr if config.F in (None, "global") else config.F
        bank = build_filterbank(
            config.shape, config.J, config.Q1, config.Q2, config.J_fr, config.Q_fr, T, F
        )
        if F > len(bank.psi1):
            raise ValueError(
                f"F must be None, 'global' or an int in [1, {len(bank.psi1)}] (the number of "
                f"first-order filters), got {config.F}"
            )

        self.global_t = config.T == "global"
        self.global_f = config.F == "global"
        self.paths: list[Path] = enumerate_paths(bank, local_fr=not self.global_f)
        self.n_paths = len(self.paths)
        self.n_psi1 = len(bank.psi1)
        self.j1 = [f.j for f in bank.psi1]
        self.paths_by_psi2: dict[int, list[Path]] = {}
        for p in self.paths:
            self.paths_by_psi2.setdefault(p.n2, []).append(p)
        self.n1_needed = max(p.n1_max for p in self.paths)
        self._build_buffers(bank)
        # The arrays now live in buffers; keeping the numpy copies would double the memory.
        self.bank = bank.without_arrays()
        del bank
        _return_freed_memory_to_os()

    def _build_buffers(self, bank: FilterBank) -> None:
        # First-order rows sharing a subsampling form a group (rows are sorted by scale).
        # Band-pass filters touch few bins: they are applied as sparse gathers (BandPlan).
        self.groups: list[tuple[int, int, int]] = []  # (k1, first row, end row)
        for n1, j1 in enumerate(self.j1):
            k1 = min(j1, bank.log2_T)
            if self.groups and self.groups[-1][0] == k1:
                self.groups[-1] = (k1, self.groups[-1][1], n1 + 1)
            else:
                self.groups.append((k1, n1, n1 + 1))
        self.row_ptr: dict[str, list[int]] = {}
        for g, (k1, start, stop) in enumerate(self.groups):
            levels = [f.levels[0] for f in bank.psi1[start:stop]]
            self._register_plan(f"psi1_{g}", band_plan(levels, bank.n_padded >> k1))
        for n2, group in self.paths_by_psi2.items():
            for k1 in {min(j1, bank.log2_T) for j1 in self.j1[: group[0].n1_max]}:
                n_out = bank.n_padded >> group[0].log2_t
                plan = band_plan([bank.psi2[n2].levels[k1]], n_out)
                self._register_plan(f"psi2_{n2}_{k1}", plan)
        # Temporal averaging keeps few samples (n_padded / T): a matrix product against the
        # decimated low-pass beats FFTs of the long axis, when the matrix is small enough.
        self.time_matrix: dict[int, str] = {}
        for r in sorted({p.log2_t for p in self.paths}):
            level = bank.phi_t.levels[r]
            self._register(f"phi_t_{r}", level)
            if len(level) ** 2 >> (bank.log2_T - r) <= MAX_MATRIX_ELEMENTS:
                mat = decimated_convolution_matrix(level, len(level), bank.log2_T - r)
                self.time_matrix[r] = f"avg_t_{r}"
                self._register(self.time_matrix[r], mat.real)
        # The log-frequency axis is short: frequential filters are matrices over the
        # first-order rows (columns at full frequential rate; a path keeps every 2**k-th).
        mats = [decimated_convolution_matrix(f.levels[0], self.n_psi1, 0) for f in bank.psi_fr]
        self._register("psi_fr", np.stack([np.stack([m.real, m.imag], -1) for m in mats]))
        for k, level in enumerate(bank.phi_f.levels):
            mat = decimated_convolution_matrix(level, len(level), bank.log2_F - k)
            self._register(f"avg_f_{k}", mat.real.T)

    def _register_plan(self, name: str, plan: BandPlan) -> None:
        # Indices stay int64 under .double()/.half(); values follow the module's dtype.
        self.register_buffer(f"{name}_src", torch.as_tensor(plan.src), persistent=False)
        self.register_buffer(f"{name}_dst", torch.as_tensor(plan.dst), persistent=False)
        self._register(f"{name}_re", plan.value)
        self._register(f"{name}_im", plan.value * plan.sign)
        self.row_ptr[name] = plan.row_ptr.tolist()

    def _apply_plan(self, name: str, spectrum: Tensor, rows: int, n_out: int) -> Tensor:
        """Filter half spectra ``(..., bins)`` with a plan's first ``rows`` rows.

        Returns the subsampled full spectra, ``(..., rows * n_out)``.
        """
        end = self.row_ptr[name][rows]
        gathered = spectrum[..., getattr(self, f"{name}_src")[:end]]
        filtered = torch.complex(
            gathered.real * getattr(self, f"{name}_re")[:end],
            gathered.imag * getattr(self, f"{name}_im")[:end],
        )
        out = filtered.new_zeros(*spectrum.shape[:-1], rows * n_out)
        return out.index_add(-1, getattr(self, f"{name}_dst")[:end], filtered)

    def _register(self, name: str, array: np.ndarray) -> None:
        # Non-persistent: filters are rebuilt from the configuration, never checkpointed.
        self.register_buffer(name, torch.as_tensor(array, dtype=torch.float32), persistent=False)

    # -- stages -------------------------------------------------------------------------

    def pad(self, x: Tensor) -> Tensor:
        """Reflect-pad ``(batch, N)`` signals to ``(batch, n_padded)``."""
        left = self.bank.pad_left
        right = self.bank.n_padded - self.bank.n - left
        return nnf.pad(x.unsqueeze(1), (left, right), mode="reflect").squeeze(1)

    def first_order(self, x_pad: Tensor, n1_max: int) -> list[tuple[int, Tensor]]:
        """Half spectra of ``|x ∗ ψ1|`` for rows ``[0, n1_max)``, grouped by subsampling.

        Returns a list of ``(k1, (batch, rows, n_padded / 2**k1 // 2 + 1) half spectrum)``
        with row ``λ1`` subsampled by ``2**k1 = 2**min(j1, log2_T)``, groups in row order.
        """
        x_half = torch.fft.rfft(x_pad)
        groups: list[tuple[int, Tensor]] = []
        for g, (k1, start, stop) in enumerate(self.groups):
            rows = min(stop, n1_max) - start
            if rows <= 0:
                break
            n_out = self.bank.n_padded >> k1
            y_hat = self._apply_plan(f"psi1_{g}", x_half, rows, n_out)
            # |z| has gradient sgn(z): zero, not NaN, where the signal is silent.
            u1 = torch.fft.ifft(y_hat.unflatten(-1, (rows, n_out))).abs()
            groups.append((k1, torch.fft.rfft(u1)))
        return groups

    def second_order(self, u1_groups: list[tuple[int, Tensor]], path: Path) -> Tensor:
        """``Y2 = U1 ∗ ψ2`` for the path's ψ2: complex ``(batch, n1_max, time)``."""
        rows = []
        seen = 0
        n_out = self.bank.n_padded >> path.log2_t
        for k1, u1_half in u1_groups:
            take = min(u1_half.shape[1], path.n1_max - seen)
            if take <= 0:
                break
            y_hat = self._apply_plan(f"psi2_{path.n2}_{k1}", u1_half[:, :take], 1, n_out)
            rows.append(torch.fft.ifft(y_hat))
            seen += take
        return torch.cat(rows, dim=1)

    def joint(self, y2: Tensor, path: Path) -> Tensor:
        """Frequential filtering, modulus and averaging of ``Y2`` along one path.

        ``y2``: ``(batch, n1_max, time)``. Returns ``(batch, n_freq, n_time)``. As in the
        reference implementation, coefficients span the whole padded grid.
        """
        mats = torch.view_as_complex(self.psi_fr[[path.n_fr], : y2.shape[1], :: 2**path.log2_fr])
        rows = None
        if path.spin != 0:
            # Rows beyond the frequential filter's reach are ~0 and are averaged over in
            # frequency next: skip them (a several-fold saving for narrow filters).
            rows = self.active_rows(mats)
            mats = mats[..., rows]
        if self.global_t:
            avg = y2.real.new_full((y2.shape[-1], 1), 1.0 / y2.shape[-1])
            s = scatter_modulus_average(y2, mats, avg)
        elif path.log2_t in self.time_matrix:
            s = scatter_modulus_average(y2, mats, getattr(self, self.time_matrix[path.log2_t]))
        else:  # averaging matrix too large: filter by FFT instead
            u2 = (mats.transpose(-1, -2) @ y2.unsqueeze(1)).abs()
            phi = getattr(self, f"phi_t_{path.log2_t}")
            s = lowpass(u2, phi, self.bank.log2_T - path.log2_t)
        return self.average_frequency(s[:, 0], path, rows)

    @staticmethod
    def active_rows(mats: Tensor, tol: float = 1e-7) -> Tensor:
        """Output rows of frequential filter matrices ``(filters, n1, rows)`` that any input
        row reaches with a weight above ``tol`` times the largest weight."""
        reach = mats.abs().amax(dim=(0, 1))
        return torch.nonzero(reach > tol * reach.max()).squeeze(1)

    def average_frequency(self, s: Tensor, path: Path, rows: Tensor | None = None) -> Tensor:
        """Frequential averaging ``(..., n_rows, time)`` unless the path's frequential filter
        is the low-pass (spin 0). ``rows``: which rows ``s`` holds (None: all)."""
        if path.spin == 0:
            return s
        avg_f = getattr(self, f"avg_f_{path.log2_fr}")
        if self.global_f:
            return s.sum(dim=-2, keepdim=True) / avg_f.shape[-1]
        return (avg_f if rows is None else avg_f[:, rows]) @ s

    # -- public API ---------------------------------------------------------------------

    def check_path_idx(self, path_idx: int) -> None:
        """Raise a clear error unless ``path_idx`` is an int in ``[0, n_paths)``."""
        if isinstance(path_idx, bool) or not isinstance(path_idx, numbers.Integral):
            raise TypeError(
                f"path_idx must be an int in [0, {self.n_paths}), got {type(path_idx).__name__}"
            )
        if not 0 <= path_idx < self.n_paths:
            raise ValueError(f"path_idx must be an int in [0, {self.n_paths}), got {path_idx}")

    def forward(self, x: Tensor, path_idx: int) -> Tensor:
        """Coefficients of one path: ``(batch, N)`` → ``(batch, n_freq, n_time)``.

        Computes only what the path needs: the first-order rows finer than its ψ2, one ψ2,
        one frequential filter.
        """
        self.check_path_idx(path_idx)
        path = self.paths[path_idx]
        u1 = self.first_order(self.pad(x), path.n1_max)
        y2 = self.second_order(u1, path)
        return self.joint(y2, path)

    def first_order_all(self, x: Tensor) -> list[tuple[int, Tensor]]:
        """First order for every row any path needs (see :meth:`first_order`)."""
        return self.first_order(self.pad(x), self.n1_needed)

    def psi2_paths(self, u1: list[tuple[int, Tensor]], n2: int) -> list[tuple[int, Tensor]]:
        """``(path_idx, coefficients)`` of every path of ψ2 ``n2``, from the first order ``u1``.

        ``Y2`` is computed once for all of them. Each path then runs exactly as alone (its own
        active rows), so the shared and the single-path computations agree bit for bit.
        """
        group = self.paths_by_psi2[n2]
        y2 = self.second_order(u1, group[0])
        return [(p.idx, self.joint(y2, p)) for p in group]

    def all_paths(self, x: Tensor) -> Iterator[tuple[int, Tensor]]:
        """Yield ``(path_idx, coefficients)`` for every path in index order, sharing work:
        the first order once, each ψ2 once for all its frequential filters."""
        u1 = self.first_order_all(x)
        for n2 in self.paths_by_psi2:
            yield from self.psi2_paths(u1, n2)
