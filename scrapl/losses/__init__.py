"""Scattering losses: the per-path distance, the full losses and SCRAPL, per transform."""

from scrapl.losses.all_paths import AllPathsLoss
from scrapl.losses.jtfs import JTFSLoss, SCRAPLLoss
from scrapl.losses.path_loss import PathLoss
from scrapl.losses.random_path import RandomPathLoss
from scrapl.losses.scattering1d import Scattering1DLoss, Scattering1DSCRAPLLoss
from scrapl.losses.scattering2d import Scattering2DLoss, Scattering2DSCRAPLLoss

__all__ = [
    "AllPathsLoss",
    "JTFSLoss",
    "PathLoss",
    "RandomPathLoss",
    "SCRAPLLoss",
    "Scattering1DLoss",
    "Scattering1DSCRAPLLoss",
    "Scattering2DLoss",
    "Scattering2DSCRAPLLoss",
]
