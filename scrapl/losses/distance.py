"""Per-path distance between scattering coefficients.

For one path, both coefficient arrays ``(signals, ...)`` are compressed by ρ (identity, or
``log1p(S / eps)``, Lostanlen et al., "Time–frequency scattering accurately models auditory
similarities between instrumental playing techniques", EURASIP JASMP 2021), then the distance
of each signal is the p-norm (not raised to the power p) of their difference over all other
axes. The losses then average over channels and reduce over the batch (``reduction``).
"""

from __future__ import annotations

import torch
from torch import Tensor


def rho(s: Tensor, use_log1p: bool, log1p_eps: float) -> Tensor:
    """Compression applied to scattering coefficients before comparing them."""
    return torch.log1p(s / log1p_eps) if use_log1p else s


def path_distance(
    s_x: Tensor, s_y: Tensor, p: float = 2.0, use_log1p: bool = False, log1p_eps: float = 1e-3
) -> Tensor:
    """``‖ρ(s_x) − ρ(s_y)‖_p`` over all but the first axis, one value per signal.

    Args:
        s_x, s_y: coefficients of one path, ``(signals, ...)``, same shape.
        p: order of the norm (> 0).
        use_log1p, log1p_eps: the compression ρ.

    Returns:
        ``(signals,)``.
    """
    diff = rho(s_x, use_log1p, log1p_eps) - rho(s_y, use_log1p, log1p_eps)
    return torch.linalg.vector_norm(diff.flatten(1), ord=p, dim=1)
