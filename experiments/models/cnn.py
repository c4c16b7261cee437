"""CNN encoder of the sound-matching experiments (Mitcheltree et al., ICLR 2026, §4 / App.).

The encoder maps the log1p constant-Q transform (CQT) of a target sound to the synthesiser
parameters θ̂ ∈ [0, 1]^n_theta, which a (non-deterministic) decoder/synth then renders.

Architecture (exact order used here)::

    features (batch, n_bins, n_frames)              log1p-CQT magnitudes, unitless
      -> unsqueeze channel                          (batch, 1, n_bins, n_frames)
      -> n_blocks × [ Conv2d(k×k, stride 1, "same" padding, `channels` out; the first block
                     reads 1 input channel)
                     -> 2×2 max-pool (stride 2, ceil_mode, see below)
                     -> layer norm over (C, H, W) of each example, per-channel affine
                     -> PReLU (one slope per channel) ]
      -> mean over the remaining (H, W) positions   (batch, channels)
      -> Linear(channels, latent_dim) -> PReLU      (batch, latent_dim) embedding
      -> per θ dim: Linear(latent_dim, head_hidden) -> PReLU -> Dropout(dropout)
                    -> Linear(head_hidden, 1) -> sigmoid
      -> concatenated                               (batch, n_theta) in [0, 1]

Layer norm: statistics are taken over all (C, H, W) entries of each example (so examples in
a batch never interact), and the learnable scale/shift is per channel only. This is exactly
``GroupNorm(1, channels)``; unlike ``LayerNorm((C, H, W))`` its parameter count does not
depend on the CQT size, so one model accepts any number of bins/frames.

Max-pool: 2×2 with stride 2 and ``ceil_mode=True`` (an odd trailing row/column is pooled on
its own rather than dropped, e.g. 129 frames -> 65). Along an axis whose size is already 1
the pool uses kernel/stride 1 on that axis, so arbitrarily small inputs (down to 1×1) never
fail: the spatial size simply stops shrinking.

Parameter counts (defaults): 610 245 for 2 θ dims (paper ≈604 K) and 660 957 for the
14-θ TR-808 set-up (paper ≈724 K). Each extra θ head costs 4 226 parameters; the paper's
≈120 K difference between its two set-ups is not explained by heads of the described size
(12 × 4 226 ≈ 51 K) and presumably comes from a detail the paper does not specify.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from scrapl.validation import check_int

__all__ = ["CNNEncoder", "ConvBlock", "count_parameters"]


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters of ``module`` (all, or only ``requires_grad`` ones)."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


class ConvBlock(nn.Module):
    """One encoder block: conv (same padding) -> 2×2 max-pool -> layer norm -> PReLU.

    Input ``(batch, in_channels, H, W)``; output ``(batch, out_channels, ceil(H/2),
    ceil(W/2))`` (an axis of size 1 is left unpooled).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride=1, padding=kernel_size // 2
        )
        # Layer norm over (C, H, W) of each example with per-channel affine parameters.
        self.norm = nn.GroupNorm(1, out_channels)
        self.act = nn.PReLU(out_channels)

    @staticmethod
    def pool(x: Tensor) -> Tensor:
        """2×2 max-pool, stride 2, ceil_mode; axes of size 1 are not pooled."""
        kh = 2 if x.shape[-2] >= 2 else 1
        kw = 2 if x.shape[-1] >= 2 else 1
        if kh == 1 and kw == 1:
            return x
        return F.max_pool2d(x, kernel_size=(kh, kw), stride=(kh, kw), ceil_mode=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.norm(self.pool(self.conv(x))))


class CNNEncoder(nn.Module):
    """CQT -> θ̂ encoder of Mitcheltree et al. (ICLR 2026): 2-D CNN, mean-pool, MLP heads.

    Args:
        n_theta: number of synth parameters to predict (2 for granular/chirplet, 14 for
            TR-808); one MLP head each.
        n_blocks: number of conv blocks (paper: 5).
        channels: conv channels of every block (paper: 128).
        kernel_size: odd conv kernel size, stride 1 with "same" padding (paper: 3).
        latent_dim: size of the dense embedding after mean-pooling (paper: 64).
        head_hidden: hidden width of each per-θ MLP head.
        dropout: dropout probability in each head, in [0, 1) (paper: 0.5).

    Shapes:
        ``forward(features)``: ``features`` is the log1p-CQT magnitude (unitless) of shape
        ``(batch, n_bins, n_frames)`` or ``(batch, 1, n_bins, n_frames)``, e.g. 60 × 129
        (5 octaves × 12 bins, N = 32768 at hop 256) or 108 × 173 (9 octaves, TR-808).
        Returns ``(batch, n_theta)`` normalised parameters in [0, 1] (sigmoid outputs).
        Any ``n_bins, n_frames >= 1`` is accepted; the parameter count does not depend
        on them.
    """

    def __init__(
        self,
        n_theta: int,
        n_blocks: int = 5,
        channels: int = 128,
        kernel_size: int = 3,
        latent_dim: int = 64,
        head_hidden: int = 64,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.n_theta = check_int("n_theta", n_theta, 1)
        self.n_blocks = check_int("n_blocks", n_blocks, 1)
        self.channels = check_int("channels", channels, 1)
        self.kernel_size = check_int("kernel_size", kernel_size, 1)
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd (same padding), got {kernel_size}")
        self.latent_dim = check_int("latent_dim", latent_dim, 1)
        self.head_hidden = check_int("head_hidden", head_hidden, 1)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)):
            raise TypeError(f"dropout must be a float, got {type(dropout).__name__}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.dropout = float(dropout)

        self.blocks = nn.Sequential(
            *[ConvBlock(1 if i == 0 else channels, channels, kernel_size) for i in range(n_blocks)]
        )
        self.embed = nn.Sequential(nn.Linear(channels, latent_dim), nn.PReLU())
        self.heads = nn.ModuleList(
            nn.Sequential(
                nn.Linear(latent_dim, head_hidden),
                nn.PReLU(),
                nn.Dropout(self.dropout),
                nn.Linear(head_hidden, 1),
            )
            for _ in range(n_theta)
        )

    def _as_4d(self, features: Tensor) -> Tensor:
        if not isinstance(features, Tensor):
            raise TypeError(f"features must be a torch.Tensor, got {type(features).__name__}")
        if not features.is_floating_point():
            raise TypeError(f"features must be a floating-point tensor, got {features.dtype}")
        if features.dim() == 3:
            features = features.unsqueeze(1)
        elif features.dim() != 4 or features.shape[1] != 1:
            raise ValueError(
                "features must have shape (batch, n_bins, n_frames) or "
                f"(batch, 1, n_bins, n_frames), got {tuple(features.shape)}"
            )
        if min(features.shape) < 1:
            raise ValueError(f"features must be non-empty, got shape {tuple(features.shape)}")
        return features

    def embedding(self, features: Tensor) -> Tensor:
        """Latent embedding ``(batch, latent_dim)`` of ``features`` (see class docstring)."""
        x = self.blocks(self._as_4d(features))
        return self.embed(x.mean(dim=(-2, -1)))

    def forward(self, features: Tensor) -> Tensor:
        """θ̂ of shape ``(batch, n_theta)`` in [0, 1] from a log1p-CQT ``features``."""
        z = self.embedding(features)
        return torch.sigmoid(torch.cat([head(z) for head in self.heads], dim=-1))
