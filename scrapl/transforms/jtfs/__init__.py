"""Joint time–frequency scattering (JTFS), path by path: filter bank, paths, transform."""

from scrapl.transforms.jtfs.config import Averaging, JTFSConfig
from scrapl.transforms.jtfs.transform import JTFS

__all__ = ["JTFS", "Averaging", "JTFSConfig"]
