"""SCRAPL: Scattering Transform with Random Paths for Machine Learning.

A differentiable joint time–frequency scattering (JTFS) loss that evaluates one random path
per step (Mitcheltree, Lostanlen, Benetos & Lagrange, ICLR 2026).
"""

from scrapl.config import JTFSConfig
from scrapl.jtfs import JTFS
from scrapl.jtfs_loss import JTFSLoss
from scrapl.scrapl_loss import SCRAPLLoss

__all__ = ["JTFS", "JTFSConfig", "JTFSLoss", "SCRAPLLoss"]
__version__ = "0.1.0"
