"""Scattering transforms evaluated path by path (:class:`PathTransform`).

Each transform follows kymatio's split: a numpy filter bank, the core algorithm, a thin torch
module whose filters are buffers. Shared pieces: :mod:`scrapl.transforms.morlet` (1-D Morlet
filter design), :mod:`scrapl.transforms.windows` (band-pass filtering on a window of bins) and
:mod:`scrapl.transforms.primitives` (modulus and truncated FFT with cheaper backward passes).
"""

from scrapl.transforms.base import PathTransform
from scrapl.transforms.jtfs import JTFS, JTFSConfig

__all__ = ["JTFS", "JTFSConfig", "PathTransform"]
