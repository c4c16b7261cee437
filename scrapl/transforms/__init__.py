"""Scattering transforms evaluated path by path (:class:`PathTransform`).

Each transform follows kymatio's split: a numpy filter bank, the core algorithm, a thin torch
module whose filters are buffers. Shared pieces: :mod:`scrapl.transforms.morlet` (1-D Morlet
filter design), :mod:`scrapl.transforms.windows` and :mod:`scrapl.transforms.windowed`
(band-pass filtering on a window of bins: numpy plans, torch application) and
:mod:`scrapl.transforms.primitives` (modulus and truncated FFT with cheaper backward passes).
Transforms: :mod:`~scrapl.transforms.jtfs` (joint time–frequency scattering),
:mod:`~scrapl.transforms.scattering1d` (time scattering), :mod:`~scrapl.transforms.scattering2d`
(image scattering).
"""

from scrapl.transforms.base import PathTransform
from scrapl.transforms.jtfs import JTFS, JTFSConfig
from scrapl.transforms.scattering1d import Scattering1D, Scattering1DConfig
from scrapl.transforms.scattering2d import Scattering2D, Scattering2DConfig

__all__ = [
    "JTFS",
    "JTFSConfig",
    "PathTransform",
    "Scattering1D",
    "Scattering1DConfig",
    "Scattering2D",
    "Scattering2DConfig",
]
