"""What every JTFS loss of the package shares: the transform and the per-path distance."""

from __future__ import annotations

from torch import Tensor, nn

from scrapl.config import Averaging, JTFSConfig
from scrapl.distance import path_distance
from scrapl.jtfs import JTFS
from scrapl.validation import check_bool, check_positive, check_signals


class PathLoss(nn.Module):
    """A :class:`scrapl.jtfs.JTFS` with the distance of :mod:`scrapl.distance`.

    Base of :class:`scrapl.JTFSLoss` (all paths) and :class:`scrapl.SCRAPLLoss` (one path);
    see them for the arguments.
    """

    def __init__(
        self,
        shape: int,
        J: int,
        Q1: int,
        Q2: int,
        J_fr: int,
        Q_fr: int,
        T: Averaging,
        F: Averaging,
        p: float,
        use_rho_log1p: bool,
        log1p_eps: float,
    ) -> None:
        super().__init__()
        self.config = JTFSConfig(shape=shape, J=J, Q1=Q1, Q2=Q2, J_fr=J_fr, Q_fr=Q_fr, T=T, F=F)
        self.p = check_positive("p", p)
        self.use_rho_log1p = check_bool("use_rho_log1p", use_rho_log1p)
        self.log1p_eps = check_positive("log1p_eps", log1p_eps)
        self.jtfs = JTFS(self.config)
        self.n_paths = self.jtfs.n_paths

    def check_inputs(self, x: object, x_target: object) -> tuple[Tensor, Tensor]:
        """Validated ``(batch * channels, shape)`` views of both signals."""
        return check_signals(x, x_target, self.config.shape, self.jtfs.psi_fr)

    def distance(self, s_x: Tensor, s_y: Tensor) -> Tensor:
        """Distance between the coefficients of one path (a scalar)."""
        return path_distance(s_x, s_y, self.p, self.use_rho_log1p, self.log1p_eps)
