"""Time scattering (kymatio 0.3's ``Scattering1D``), path by path: filter bank, paths, transform."""

from scrapl.transforms.scattering1d.config import Scattering1DConfig
from scrapl.transforms.scattering1d.transform import Scattering1D

__all__ = ["Scattering1D", "Scattering1DConfig"]
