"""Band-pass filtering on a window of bins, in torch: the plans of :mod:`scrapl.transforms.windows`
applied to half spectra.

The window of a filter is read from a real signal's half spectrum, multiplied by the filter and
placed at bins ``0 .. width - 1`` of the output grid; the inverse FFT then gives the filtered,
subsampled signal times a unit complex exponential, which the modulus that follows removes.
"""

from __future__ import annotations

import torch
from torch import Tensor


def filter_window(spectrum: Tensor, src: Tensor, value: Tensor) -> Tensor:
    """``spectrum[..., src]`` times the plan's ``value`` (``(*shape, 2)``: the real and the
    imaginary part's factors), complex ``(..., *shape)``; ``src`` is flat."""
    windows = torch.view_as_real(spectrum.index_select(-1, src))
    return torch.view_as_complex(windows.view(*spectrum.shape[:-1], *value.shape) * value)


def window_to_time(windows: Tensor, n_out: int) -> Tensor:
    """Inverse FFT of windows ``(..., width)`` placed at bins ``0 .. width - 1`` of ``n_out``
    bins (folded modulo ``n_out`` when wider: a whole number of periods)."""
    if windows.shape[-1] > n_out:
        windows = windows.unflatten(-1, (-1, n_out)).sum(dim=-2)
    return torch.fft.ifft(windows, n=n_out)
