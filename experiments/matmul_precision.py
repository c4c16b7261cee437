"""TF32 on or off, chosen in the trainer configs (``trainer.accelerator``).

On NVIDIA GPUs since Ampere, float32 matrix products and convolutions may run on TF32 tensor
cores (10-bit mantissa inputs, float32 accumulation): several times faster, with relative
errors of ~1e-3 instead of ~1e-7. PyTorch's defaults differ between the two (matrix
products: off, ``"highest"``; cuDNN convolutions: on), so the GPU trainer configs choose
explicitly, through :class:`CUDAAccelerator` (Lightning's, plus the choice, applied when
the device is set up): ``"highest"`` (no TF32 anywhere: results comparable with the CPU's),
``"high"`` (TF32 for matrix products and convolutions), ``"medium"`` (bfloat16 matrix
products). ``trainer.accelerator.float32_matmul_precision=high`` turns TF32 on.
"""

from __future__ import annotations

import torch
from lightning.pytorch.accelerators import CUDAAccelerator as LightningCUDAAccelerator

__all__ = ["PRECISIONS", "CUDAAccelerator", "set_float32_matmul_precision"]

PRECISIONS = ("highest", "high", "medium")


def set_float32_matmul_precision(value: str) -> None:
    """Apply ``value`` to float32 matrix products and cuDNN convolutions."""
    if value not in PRECISIONS:
        raise ValueError(f"float32_matmul_precision must be one of {PRECISIONS}, got {value!r}")
    torch.set_float32_matmul_precision(value)
    torch.backends.cudnn.allow_tf32 = value != "highest"


class CUDAAccelerator(LightningCUDAAccelerator):
    """Lightning's CUDA accelerator that sets ``float32_matmul_precision`` on its device."""

    def __init__(self, float32_matmul_precision: str = "highest") -> None:
        super().__init__()
        if float32_matmul_precision not in PRECISIONS:
            raise ValueError(
                f"float32_matmul_precision must be one of {PRECISIONS}, got "
                f"{float32_matmul_precision!r}"
            )
        self.float32_matmul_precision = float32_matmul_precision

    def setup_device(self, device: torch.device) -> None:
        set_float32_matmul_precision(self.float32_matmul_precision)
        super().setup_device(device)
