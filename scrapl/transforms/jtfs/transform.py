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

Temporal wavelets are applied in the Fourier domain, each on the window of bins where it is
not negligible, shifted to bin 0 (:mod:`scrapl.transforms.windows`: the modulus that follows removes
the shift); each first-order spectrum is kept only up to the bins ψ2 reads. Moduli and real
FFTs have cheaper backward passes than torch's own (:mod:`scrapl.transforms.primitives`).
The short frequential axis and the heavily decimated averaging use matrix products
(:mod:`scrapl.transforms.jtfs.frequential`). On CPU a large batch is processed in chunks
whose largest intermediate stays below 32 MB (:data:`CPU_CHUNK_BYTES`). Filters are buffers, so
``.to(device)`` and ``.double()`` move and cast them. Output of a path:
``(batch, n_freq, n_time)`` real coefficients.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as nnf
from torch import Tensor

from scrapl.transforms.base import PathTransform
from scrapl.transforms.jtfs.config import JTFSConfig
from scrapl.transforms.jtfs.filters import FilterBank, build_filterbank
from scrapl.transforms.jtfs.frequential import scatter_modulus_average
from scrapl.transforms.jtfs.paths import Path, enumerate_paths
from scrapl.transforms.morlet import decimated_convolution_matrix
from scrapl.transforms.primitives import modulus, rfft_bins
from scrapl.transforms.windows import window_plan


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


def active_rows(mats: np.ndarray, tol: float = 1e-7) -> np.ndarray:
    """Output rows of a frequential filter matrix ``(n1, rows, 2)`` (real, imaginary) that
    some input row reaches with a weight above ``tol`` times the largest weight."""
    reach = np.hypot(mats[..., 0], mats[..., 1]).max(axis=0)
    return np.nonzero(reach > tol * reach.max())[0]


MAX_MATRIX_ELEMENTS = 2**22  # 16 MB in float32
# On CPU a path is computed for at most this many bytes of its largest intermediate at a
# time: glibc serves larger blocks by fresh memory maps, whose page faults then cost as much
# as the FFTs that fill them (its threshold for that is at most 32 MB).
CPU_CHUNK_BYTES = 2**25


class JTFS(PathTransform):
    """Second-order joint time–frequency scattering, evaluated path by path.

    Args:
        config: the transform's hyperparameters (:class:`scrapl.transforms.jtfs.JTFSConfig`).

    Attributes:
        paths: every path, in index order (:class:`scrapl.paths.Path`).
        n_paths: number of paths.
    """

    def __init__(self, config: JTFSConfig) -> None:
        super().__init__()
        self.config = config
        self.signal_shape = (config.shape,)
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
        # Band-pass filters touch few bins: each is applied on its window of bins
        # (scrapl.transforms.windows), all rows' windows read from the half spectrum at once.
        self.groups: list[tuple[int, int, int, int]] = []  # (k1, first row, end row, width)
        bounds: list[tuple[int, int, int]] = []
        for n1, j1 in enumerate(self.j1):
            k1 = min(j1, bank.log2_T)
            if bounds and bounds[-1][0] == k1:
                bounds[-1] = (k1, bounds[-1][1], n1 + 1)
            else:
                bounds.append((k1, n1, n1 + 1))
        self.psi1_offset = [0]  # first entry of each row in the concatenated windows
        srcs, values = [], []
        for k1, start, stop in bounds:
            plan = window_plan([f.levels[0] for f in bank.psi1[start:stop]], bank.n_padded >> k1)
            self.groups.append((k1, start, stop, plan.width))
            base = self.psi1_offset[-1]
            self.psi1_offset += [base + plan.width * (r + 1) for r in range(stop - start)]
            srcs.append(plan.src.reshape(-1))
            values.append(plan.value.reshape(-1, 2))
        # Elements per signal of the largest first-order group (the largest intermediate).
        self.largest_group = max((b - a) * (bank.n_padded >> k1) for k1, a, b in bounds)
        self.register_buffer("psi1_src", torch.as_tensor(np.concatenate(srcs)), persistent=False)
        self._register("psi1_value", np.concatenate(values))
        # One window per ψ2, shared by its rows (they are mixed along log-frequency before
        # the modulus), read from the rows' first order spectra truncated to n_src bins.
        self.psi2_plan: dict[int, tuple[int, int]] = {}  # n2 -> (width, n_src)
        k1s = [min(j1, bank.log2_T) for j1 in self.j1]
        for n2, group in self.paths_by_psi2.items():
            n1_max = group[0].n1_max
            levels = [bank.psi2[n2].levels[k1] for k1 in k1s[:n1_max]]
            plan = window_plan(levels, bank.n_padded >> group[0].log2_t, shared=True)
            if plan.n_src > min(len(f) // 2 + 1 for f in levels):
                raise ValueError(f"psi2 {n2}: window wider than the first order's half spectra")
            rows = np.arange(n1_max)[:, None] * plan.n_src
            self.register_buffer(
                f"psi2_{n2}_src", torch.as_tensor((rows + plan.src).reshape(-1)), persistent=False
            )
            self._register(f"psi2_{n2}_value", plan.value)
            self.psi2_plan[n2] = (plan.width, plan.n_src)
        self.n_src_max = max(n_src for _, n_src in self.psi2_plan.values())
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
        # Rows beyond a frequential wavelet's reach are ~0 and are averaged over in
        # frequency next: each path skips them (a several-fold saving for narrow filters).
        for p in self.paths:
            name = f"fr_rows_{p.n_fr}_{p.n1_max}"
            if p.spin != 0 and not hasattr(self, name):
                mat = mats[p.n_fr][: p.n1_max, :: 2**p.log2_fr]
                rows = active_rows(np.stack([mat.real, mat.imag], -1).astype(np.float32))
                self.register_buffer(name, torch.as_tensor(rows), persistent=False)

    def _register(self, name: str, array: np.ndarray) -> None:
        # Non-persistent: filters are rebuilt from the configuration, never checkpointed.
        self.register_buffer(name, torch.as_tensor(array, dtype=torch.float32), persistent=False)

    @staticmethod
    def _filter_windows(spectra: Tensor, src: Tensor, value: Tensor) -> Tensor:
        """Windows of flat half spectra ``(batch, bins)`` at ``src``, times the filter
        ``value`` (``(entries, 2)`` or ``(rows, width, 2)``): complex ``(batch, *value[:-1])``."""
        windows = torch.view_as_real(spectra.index_select(-1, src))
        return torch.view_as_complex(windows.view(-1, *value.shape) * value)

    @staticmethod
    def _to_time(windows: Tensor, n_out: int) -> Tensor:
        """Inverse FFT of windows ``(..., width)`` placed at bins ``0 .. width - 1`` of
        ``n_out`` bins (folded modulo ``n_out`` when wider)."""
        if windows.shape[-1] > n_out:
            windows = windows.unflatten(-1, (-1, n_out)).sum(dim=-2)
        return torch.fft.ifft(windows, n=n_out)

    # -- stages -------------------------------------------------------------------------

    def pad(self, x: Tensor) -> Tensor:
        """Reflect-pad ``(batch, N)`` signals to ``(batch, n_padded)``."""
        left = self.bank.pad_left
        right = self.bank.n_padded - self.bank.n - left
        return nnf.pad(x.unsqueeze(1), (left, right), mode="reflect").squeeze(1)

    def first_order(
        self, x_pad: Tensor, n1_max: int, n_bins: int | None = None
    ) -> list[tuple[int, Tensor]]:
        """Half spectra of ``|x ∗ ψ1|`` for rows ``[0, n1_max)``, grouped by subsampling.

        Returns a list of ``(k1, (batch, rows, bins) half spectrum)`` with row ``λ1``
        subsampled by ``2**k1 = 2**min(j1, log2_T)``, groups in row order, each spectrum
        truncated to its first ``n_bins`` bins (None: all ``n_padded / 2**k1 // 2 + 1``).
        """
        n1_max = min(n1_max, self.n_psi1)
        end = self.psi1_offset[n1_max]
        windows = self._filter_windows(
            rfft_bins(x_pad, x_pad.shape[-1] // 2 + 1), self.psi1_src[:end], self.psi1_value[:end]
        )
        groups: list[tuple[int, Tensor]] = []
        active = [(k1, min(stop, n1_max) - start, w) for k1, start, stop, w in self.groups]
        active = [(k1, rows, width) for k1, rows, width in active if rows > 0]
        # One split, not a slice per group: its backward is one concatenation, where each
        # slice's would zero-fill a gradient of all the windows.
        parts = windows.split([rows * width for _, rows, width in active], dim=-1)
        for (k1, rows, width), part in zip(active, parts, strict=True):
            group = part.unflatten(-1, (rows, width))
            n_out = self.bank.n_padded >> k1
            u1 = modulus(self._to_time(group, n_out))
            groups.append((k1, rfft_bins(u1, n_out // 2 + 1 if n_bins is None else n_bins)))
        return groups

    def second_order(self, u1_groups: list[tuple[int, Tensor]], path: Path) -> Tensor:
        """``Y2 = U1 ∗ ψ2`` for the path's ψ2: complex ``(batch, n1_max, time)``, up to a
        unit exponential factor common to all rows (see :mod:`scrapl.transforms.windows`)."""
        width, n_src = self.psi2_plan[path.n2]
        parts = []
        seen = 0
        for _, u1_half in u1_groups:
            take = min(u1_half.shape[1], path.n1_max - seen)
            if take <= 0:
                break
            parts.append(u1_half[:, :take, :n_src])
            seen += take
        spectra = torch.cat(parts, dim=1).flatten(1)
        src = getattr(self, f"psi2_{path.n2}_src")
        windows = self._filter_windows(spectra, src, getattr(self, f"psi2_{path.n2}_value"))
        return self._to_time(windows, self.bank.n_padded >> path.log2_t)

    def frequential_matrix(self, path: Path) -> tuple[Tensor, Tensor | None]:
        """The path's frequential filter as a complex ``(1, n1_max, rows)`` matrix over the
        first-order rows, and which decimated rows it keeps (None: all)."""
        mats = self.psi_fr[path.n_fr, : path.n1_max, :: 2**path.log2_fr]
        if path.spin == 0:
            return torch.view_as_complex(mats).unsqueeze(0), None
        rows = getattr(self, f"fr_rows_{path.n_fr}_{path.n1_max}")
        return torch.view_as_complex(mats[:, rows]).unsqueeze(0), rows

    def joint(self, y2: Tensor, path: Path) -> Tensor:
        """Frequential filtering, modulus and averaging of ``Y2`` along one path.

        ``y2``: ``(batch, n1_max, time)``. Returns ``(batch, n_freq, n_time)``. As in the
        reference implementation, coefficients span the whole padded grid.
        """
        mats, rows = self.frequential_matrix(path)
        if self.global_t:
            avg = y2.real.new_full((y2.shape[-1], 1), 1.0 / y2.shape[-1])
            s = scatter_modulus_average(y2, mats, avg)
        elif path.log2_t in self.time_matrix:
            s = scatter_modulus_average(y2, mats, getattr(self, self.time_matrix[path.log2_t]))
        else:  # averaging matrix too large: filter by FFT instead
            u2 = modulus(mats.transpose(-1, -2) @ y2.unsqueeze(1))
            phi = getattr(self, f"phi_t_{path.log2_t}")
            s = lowpass(u2, phi, self.bank.log2_T - path.log2_t)
        return self.average_frequency(s[:, 0], path, rows)

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

    @property
    def reference(self) -> Tensor:
        return self.psi_fr

    def describe(self) -> str:
        return self.config.describe()

    def forward(self, x: Tensor, path_idx: int) -> Tensor:
        """Coefficients of one path: ``(batch, N)`` → ``(batch, n_freq, n_time)``.

        Computes only what the path needs: the first-order rows finer than its ψ2, one ψ2,
        one frequential filter.
        """
        path = self.paths[self.check_path_idx(path_idx)]
        parts = [self._path(part, path) for part in self.batch_chunks(x)]
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def _path(self, x: Tensor, path: Path) -> Tensor:
        u1 = self.first_order(self.pad(x), path.n1_max, self.psi2_plan[path.n2][1])
        y2 = self.second_order(u1, path)
        return self.joint(y2, path)

    def batch_chunks(self, x: Tensor) -> tuple[Tensor, ...]:
        """``x`` split along the batch into the chunks a path is computed in: on CPU, each
        chunk's largest intermediate (complex first order) within :data:`CPU_CHUNK_BYTES`;
        one chunk on other devices (their allocators cache memory)."""
        if x.device.type != "cpu":
            return (x,)
        per_signal = 2 * x.element_size() * self.largest_group
        n_chunks = -(-x.shape[0] // max(1, CPU_CHUNK_BYTES // per_signal))
        return x.tensor_split(n_chunks, dim=0)

    def first_order_all(self, x: Tensor) -> list[tuple[int, Tensor]]:
        """First order for every row any path needs (see :meth:`first_order`)."""
        return self.first_order(self.pad(x), self.n1_needed, self.n_src_max)

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
