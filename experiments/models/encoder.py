"""Audio -> θ̂ encoder of the SCRAPL sound-matching experiments (Mitcheltree et al., ICLR 2026).

The encoder is a fixed (non-learned) time-frequency front end followed by a learned network,
e.g. :class:`~experiments.models.cqt.CQTFeatures` (log1p-CQT) then
:class:`~experiments.models.cnn.CNNEncoder`::

    audio (batch, 1, N) -> features (batch, n_bins, n_frames) -> net -> θ̂ (batch, n_theta)

Keeping the two apart lets an experiment swap either one, and keeps the front end's constant
kernels out of the parameter count: only ``net`` is trained.
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["AudioEncoder"]


class AudioEncoder(nn.Module):
    """``net(features(audio))``: predicts synth parameters θ̂ from audio.

    Args:
        features: front end mapping audio to a feature image, e.g. ``CQTFeatures()``. It is
            expected to hold no trainable parameters (any it has are trained with ``net``).
        net: network mapping those features to θ̂, e.g. ``CNNEncoder(n_theta=2)``.

    Shapes:
        ``forward(audio)``: whatever ``features`` accepts, e.g. ``(batch, 1, N)`` or
        ``(batch, N)`` samples; returns ``net``'s output, ``(batch, n_theta)`` θ̂ in [0, 1]
        for ``CNNEncoder``. When ``audio`` does not require grad (the usual case: the target
        sound), autograd records nothing through the front end, so its cost is forward-only.
    """

    def __init__(self, features: nn.Module, net: nn.Module) -> None:
        super().__init__()
        for name, module in (("features", features), ("net", net)):
            if not isinstance(module, nn.Module):
                raise TypeError(f"{name} must be a torch.nn.Module, got {type(module).__name__}")
        self.features = features
        self.net = net

    @property
    def n_theta(self) -> int | None:
        """Number of predicted parameters (``net.n_theta``), or ``None`` if ``net`` has none."""
        return getattr(self.net, "n_theta", None)

    def forward(self, audio: Tensor) -> Tensor:
        """θ̂ = ``net(features(audio))``."""
        return self.net(self.features(audio))
