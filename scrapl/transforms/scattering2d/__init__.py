"""Image scattering (kymatio 0.3's ``Scattering2D``), path by path: filters, paths, transform."""

from scrapl.transforms.scattering2d.config import Scattering2DConfig
from scrapl.transforms.scattering2d.transform import Scattering2D

__all__ = ["Scattering2D", "Scattering2DConfig"]
