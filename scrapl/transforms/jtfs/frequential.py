"""Frequential scattering fused with the modulus and the temporal averaging, in time chunks.

For second-order wavelet coefficients ``Y2(λ1, t)`` (``(batch, n1, time)``, complex), the
joint coefficients of frequential filters ``f`` before frequential averaging are

    ``S[f, m, t'] = Σ_t |Σ_λ1 M_f[λ1, m] · Y2(λ1, t)| · A[t, t']``

where ``M_f`` is the frequential filter as a (decimated) convolution matrix over the
log-frequency axis and ``A`` the temporal low-pass as a decimated convolution matrix.

The intermediate ``|M_f^T Y2|`` has ``batch × filters × frequential rows × time`` entries,
gigabytes at fine temporal resolution, while the output is small. This operator never
materialises it: the forward pass and the backward pass both walk over time chunks and
recompute it per chunk, so memory is bounded by the inputs plus one chunk. The backward
pass is written with differentiable operations, so double backward (Hessian-vector
products for θ-IS warmup) works through it.
"""

from __future__ import annotations

import torch
from torch import Tensor

from scrapl.transforms.primitives import full_precision, modulus, modulus_grad

# On CPU: complex entries of one chunk of the intermediate (16 MB in complex64), so that each
# allocation stays below glibc's memory-map threshold (larger blocks are fresh mappings whose
# page faults cost as much as the arithmetic).
CHUNK_ELEMENTS = 2**21
# On a GPU the whole time axis runs at once (few, large kernels) unless the intermediate
# would take more than this fraction of the memory still free: then halves until it fits.
GPU_FREE_FRACTION = 0.5
# Complex temporaries per intermediate entry: z, its modulus, and the backward pass's.
TEMPORARIES = 4


def _free_bytes(device: torch.device) -> int | None:
    """Memory a CUDA device can still give this process (driver + the caching allocator's
    free blocks), None elsewhere (no limit known: no chunking)."""
    if device.type != "cuda":
        return None
    free, _ = torch.cuda.mem_get_info(device)
    cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    return free + cached


def _chunk_length(
    batch: int, n_filters: int, n_rows: int, n_time: int, device: torch.device, itemsize: int
) -> int:
    """Time samples per chunk: CPU-sized chunks on CPU (:data:`CHUNK_ELEMENTS`); elsewhere the
    whole axis, halved until the intermediate fits :data:`GPU_FREE_FRACTION` of free memory."""
    per_step = max(1, batch * n_filters * n_rows)
    if device.type == "cpu":
        length = 1
        while length * 2 * per_step <= CHUNK_ELEMENTS and length * 2 <= n_time:
            length *= 2
        return length
    free = _free_bytes(device)
    length = n_time
    if free is not None:
        budget = GPU_FREE_FRACTION * free
        while length > 1 and length * per_step * TEMPORARIES * 2 * itemsize > budget:
            length = -(-length // 2)
    return length


class _ScatterModulusAverage(torch.autograd.Function):
    @staticmethod
    def forward(ctx, y2: Tensor, mats: Tensor, avg: Tensor) -> Tensor:
        mats_t = mats.transpose(-1, -2).unsqueeze(0)  # (1, nf, n_out, n1)
        batch, n_time = y2.shape[0], y2.shape[-1]
        chunk = _chunk_length(
            batch, mats.shape[0], mats.shape[-1], n_time, y2.device, y2.real.element_size()
        )
        out = None
        for start in range(0, n_time, chunk):
            z = mats_t @ y2[:, None, :, start : start + chunk]
            part = modulus(z) @ avg[start : start + chunk]
            out = part if out is None else out + part
        ctx.save_for_backward(y2, mats, avg)
        ctx.chunk = chunk
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor) -> tuple[Tensor | None, None, None]:
        y2, mats, avg = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None
        mats_t = mats.transpose(-1, -2).unsqueeze(0)
        mats_h = mats.conj().unsqueeze(0)  # adjoint of z = M^T y is M̄ g
        grads = []
        # A backward called inside a caller's autocast region must not cast these products.
        with full_precision(y2.device):
            grad_out = grad_out.to(avg.dtype)
            for start in range(0, y2.shape[-1], ctx.chunk):
                z = mats_t @ y2[:, None, :, start : start + ctx.chunk]
                grad_r = grad_out @ avg[start : start + ctx.chunk].transpose(-1, -2)
                grads.append((mats_h @ modulus_grad(z, grad_r)).sum(dim=1))
        return (grads[0] if len(grads) == 1 else torch.cat(grads, dim=-1)), None, None


def scatter_modulus_average(y2: Tensor, mats: Tensor, avg: Tensor) -> Tensor:
    """``|M_f^T Y2| A`` for every frequential filter f, in bounded memory.

    Args:
        y2: second-order wavelet coefficients, ``(batch, n1, time)``, complex.
        mats: frequential filters as matrices, ``(n_filters, n1, n_rows)``, complex.
        avg: temporal averaging matrix, ``(time, n_time_out)``, real.

    Returns:
        ``(batch, n_filters, n_rows, n_time_out)`` real coefficients.
    """
    return _ScatterModulusAverage.apply(y2, mats, avg)
