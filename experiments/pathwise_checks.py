"""Set-up checks of a run whose loss has path-wise gradient transforms (P-Adam / P-SAGA)."""

from __future__ import annotations

import torch

__all__ = ["check_accumulation", "check_plain_sgd"]


def check_plain_sgd(optimizer: torch.optim.Optimizer) -> None:
    """P-Adam keeps Adam moments per path: the optimizer must be plain SGD."""
    groups = optimizer.param_groups
    plain = isinstance(optimizer, torch.optim.SGD) and all(
        g.get("momentum", 0) == 0 and not g.get("nesterov", False) for g in groups
    )
    if not plain:
        raise ValueError(
            "P-Adam already keeps Adam moments per path: the optimizer must be plain SGD "
            "(torch.optim.SGD, momentum=0, nesterov=False; weight decay is fine), got "
            f"{type(optimizer).__name__} with momentum={groups[0].get('momentum')}, "
            f"betas={groups[0].get('betas')}"
        )


def check_accumulation(accumulate: int, loss_name: str) -> None:
    """P-Adam/P-SAGA transform each step's gradient of one path: no accumulation."""
    if accumulate != 1:
        raise ValueError(
            f"trainer.accumulate_grad_batches must be 1 with {loss_name} "
            f"(P-Adam/P-SAGA transform each step's gradient of one path), got {accumulate}"
        )
