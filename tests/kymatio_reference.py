"""kymatio 0.3, the reference implementation of time and image scattering, for the tests.

kymatio 0.3 imports ``scipy.special.sph_harm`` (for its 3-D transform) at import time, a name
that scipy 1.17 removed in favour of ``sph_harm_y`` (degree and order, and the two angles,
swapped). The package never imports kymatio; the tests install the old name before importing
it, defined through the new function so that it stays correct if it is ever called.
"""

from __future__ import annotations

import scipy.special

if not hasattr(scipy.special, "sph_harm"):

    def _sph_harm(m, n, theta, phi):
        # scipy < 1.17: sph_harm(order m, degree n, azimuth theta, polar phi).
        return scipy.special.sph_harm_y(n, m, phi, theta)

    scipy.special.sph_harm = _sph_harm

import kymatio.numpy as kymatio_numpy  # noqa: E402
import kymatio.torch as kymatio_torch  # noqa: E402

__all__ = ["kymatio_numpy", "kymatio_torch"]
