"""SCRAPL: Scattering Transform with Random Paths for Machine Learning.

Differentiable scattering losses that evaluate one randomly sampled path per step, stabilised
by path-wise Adam (P-Adam), path-wise SAGA (P-SAGA) and θ-importance sampling (θ-IS)
(Mitcheltree, Lostanlen, Benetos & Lagrange, ICLR 2026).

Layout: :mod:`scrapl.transforms` (scattering transforms path by path), :mod:`scrapl.pathwise`
(sampler, P-Adam / P-SAGA, attached parameters), :mod:`scrapl.warmup` (θ-IS) and
:mod:`scrapl.losses` (the losses tying them together).
"""

from scrapl.losses import AllPathsLoss, JTFSLoss, RandomPathLoss, SCRAPLLoss
from scrapl.transforms import JTFS, JTFSConfig, PathTransform

__all__ = [
    "JTFS",
    "AllPathsLoss",
    "JTFSConfig",
    "JTFSLoss",
    "PathTransform",
    "RandomPathLoss",
    "SCRAPLLoss",
]
__version__ = "0.1.0"
