"""SCRAPL: Scattering Transform with Random Paths for Machine Learning.

Differentiable scattering losses that evaluate one randomly sampled path per step, stabilised
by path-wise Adam (P-Adam), path-wise SAGA (P-SAGA) and θ-importance sampling (θ-IS)
(Mitcheltree, Lostanlen, Benetos & Lagrange, ICLR 2026), for the joint time–frequency
scattering (:class:`SCRAPLLoss`), time scattering (:class:`Scattering1DSCRAPLLoss`) and image
scattering (:class:`Scattering2DSCRAPLLoss`); each has its full loss beside it.

Layout: :mod:`scrapl.transforms` (scattering transforms path by path), :mod:`scrapl.pathwise`
(sampler, P-Adam / P-SAGA, attached parameters), :mod:`scrapl.warmup` (θ-IS) and
:mod:`scrapl.losses` (the losses tying them together).
"""

from scrapl.losses import (
    AllPathsLoss,
    JTFSLoss,
    RandomPathLoss,
    Scattering1DLoss,
    Scattering1DSCRAPLLoss,
    Scattering2DLoss,
    Scattering2DSCRAPLLoss,
    SCRAPLLoss,
)
from scrapl.transforms import (
    JTFS,
    JTFSConfig,
    PathTransform,
    Scattering1D,
    Scattering1DConfig,
    Scattering2D,
    Scattering2DConfig,
)

__all__ = [
    "JTFS",
    "AllPathsLoss",
    "JTFSConfig",
    "JTFSLoss",
    "PathTransform",
    "RandomPathLoss",
    "SCRAPLLoss",
    "Scattering1D",
    "Scattering1DConfig",
    "Scattering1DLoss",
    "Scattering1DSCRAPLLoss",
    "Scattering2D",
    "Scattering2DConfig",
    "Scattering2DLoss",
    "Scattering2DSCRAPLLoss",
]
__version__ = "0.1.0"
