"""CNN encoder of the sound-matching experiments (Mitcheltree et al., ICLR 2026).

The encoder maps the log1p constant-Q transform (CQT) of a target sound to the synthesiser
parameters θ̂ ∈ [0, 1]^n_theta, which a (non-deterministic) decoder/synth then renders.

Architecture (exact order)::

    features (batch, n_bins, n_frames)              log1p-CQT magnitudes, unitless
      -> unsqueeze channel                          (batch, 1, n_bins, n_frames)
      -> n_blocks × [ layer norm over (H, W) of each channel, no affine parameters
                     -> Conv2d(k×k, stride 1, "same" padding, `channels` out)
                     -> max-pool pools[i] (floor: trailing rows/columns are dropped)
                     -> PReLU (one slope) ]
      -> mean over the remaining (H, W) positions   (batch, channels)
      -> Linear(channels, latent_dim) -> PReLU -> Dropout(dropout)       embedding
      -> per θ dim: Linear(latent_dim, head_hidden) -> PReLU -> Dropout(dropout)
                    -> Linear(head_hidden, 1) -> sigmoid
      -> concatenated                               (batch, n_theta) in [0, 1]

The layer norm is applied to each block's *input*, so the raw CQT image is normalised too:
per example and per channel, over the time-frequency plane; loudness does not reach the
convolutions. Its parameter count does not depend on the CQT size, so one model accepts any
number of bins/frames.

Max-pool: where an axis is already smaller than its pool size, that axis is pooled over its
whole extent instead (so small inputs, e.g. the CPU presets' short sounds, never fail: the
spatial size simply stops shrinking at 1).

Parameter counts: 604,106 for the granular/chirplet set-up (2 θ, latent 64, heads 64→32) and
724,642 for the TR-808 variant (14 θ, pools (2,2),(2,2),(2,3),(3,3),(3,3), latent 128, heads
128→64, dropout 0.25).
"""

from __future__ import annotations

from collections.abc import Sequence

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
    """One encoder block: layer norm over (H, W) -> conv (same) -> max-pool -> PReLU.

    Input ``(batch, in_channels, H, W)``; output ``(batch, out_channels, H // ph, W // pw)``
    with ``(ph, pw) = pool`` (an axis shorter than its pool size is pooled to 1).
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, pool: tuple[int, int]
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding="same")
        self.pool_size = pool
        self.act = nn.PReLU()

    def pool(self, x: Tensor) -> Tensor:
        kernel = (min(self.pool_size[0], x.shape[-2]), min(self.pool_size[1], x.shape[-1]))
        if kernel == (1, 1):
            return x
        return F.max_pool2d(x, kernel_size=kernel, stride=kernel)

    def forward(self, x: Tensor) -> Tensor:
        x = F.layer_norm(x, x.shape[-2:])
        return self.act(self.pool(self.conv(x)))


def _check_pools(pools: object, n_blocks: int) -> list[tuple[int, int]]:
    if isinstance(pools, (str, bytes)) or not isinstance(pools, Sequence):
        raise TypeError(f"pools must be a sequence of (height, width) pairs, got {pools!r}")
    if len(pools) != n_blocks:
        raise ValueError(f"pools must have n_blocks = {n_blocks} entries, got {len(pools)}")
    out = []
    for i, pool in enumerate(pools):
        if isinstance(pool, (str, bytes)) or not isinstance(pool, Sequence) or len(pool) != 2:
            raise TypeError(f"pools[{i}] must be a (height, width) pair, got {pool!r}")
        out.append(
            (check_int(f"pools[{i}][0]", pool[0], 1), check_int(f"pools[{i}][1]", pool[1], 1))
        )
    return out


class CNNEncoder(nn.Module):
    """CQT -> θ̂ encoder of Mitcheltree et al. (ICLR 2026): 2-D CNN, mean-pool, MLP heads.

    Args:
        n_theta: number of synth parameters to predict (2 for granular/chirplet, 14 for
            TR-808); one MLP head each.
        n_blocks: number of conv blocks (paper: 5).
        channels: conv channels of every block (paper: 128).
        kernel_size: odd conv kernel size, stride 1 with "same" padding (paper: 3).
        pools: ``n_blocks`` max-pool sizes ``(height, width)``; ``None`` is ``(2, 2)`` for
            every block (granular/chirplet).
        latent_dim: size of the dense embedding after mean-pooling (paper: 64; TR-808: 128).
        head_hidden: hidden width of each per-θ head (paper: 32; TR-808: 64).
        dropout: dropout probability after the embedding and in each head, in [0, 1)
            (paper: 0.5; TR-808: 0.25).

    Shapes:
        ``forward(features)``: ``features`` is the log1p-CQT magnitude (unitless) of shape
        ``(batch, n_bins, n_frames)`` or ``(batch, 1, n_bins, n_frames)``, e.g. 60 × 129
        (5 octaves × 12 bins, N = 32768 at hop 256) or 108 × 173 (9 octaves, TR-808).
        Returns ``(batch, n_theta)`` normalised parameters in [0, 1] (sigmoid outputs).
    """

    def __init__(
        self,
        n_theta: int,
        n_blocks: int = 5,
        channels: int = 128,
        kernel_size: int = 3,
        pools: Sequence[Sequence[int]] | None = None,
        latent_dim: int = 64,
        head_hidden: int = 32,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.n_theta = check_int("n_theta", n_theta, 1)
        self.n_blocks = check_int("n_blocks", n_blocks, 1)
        self.channels = check_int("channels", channels, 1)
        self.kernel_size = check_int("kernel_size", kernel_size, 1)
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd (same padding), got {kernel_size}")
        self.pools = _check_pools([(2, 2)] * n_blocks if pools is None else pools, n_blocks)
        self.latent_dim = check_int("latent_dim", latent_dim, 1)
        self.head_hidden = check_int("head_hidden", head_hidden, 1)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)):
            raise TypeError(f"dropout must be a float, got {type(dropout).__name__}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.dropout = float(dropout)

        self.blocks = nn.Sequential(
            *[
                ConvBlock(1 if i == 0 else channels, channels, kernel_size, pool)
                for i, pool in enumerate(self.pools)
            ]
        )
        self.embed = nn.Sequential(
            nn.Linear(channels, latent_dim), nn.PReLU(), nn.Dropout(self.dropout)
        )
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
