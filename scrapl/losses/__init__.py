"""Scattering losses: the per-path distance, the full losses and SCRAPL, per transform."""

from scrapl.losses.all_paths import AllPathsLoss
from scrapl.losses.jtfs import JTFSLoss, SCRAPLLoss
from scrapl.losses.path_loss import PathLoss
from scrapl.losses.random_path import RandomPathLoss

__all__ = ["AllPathsLoss", "JTFSLoss", "PathLoss", "RandomPathLoss", "SCRAPLLoss"]
