"""A callback that signals its own process in the middle of a training step (for the
stop-signal tests, which run scripts/train.py in a subprocess with this folder on the path)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import lightning.pytorch as pl


class SignalAtStep(pl.Callback):
    """Send ``signum`` to this process during step ``step`` (1-based, before the optimizer
    step), as a scheduler would; with ``marker``, first install a handler for it that writes
    that file (what a launcher's own handler, e.g. submitit's requeue, would do)."""

    def __init__(self, step: int, signum: int, marker: str | None = None) -> None:
        self.step, self.signum, self.sent = step, signum, False
        if marker is not None:

            def previous(signum: int, frame: object) -> None:
                Path(marker).write_text(f"{signum}\n")

            signal.signal(signum, previous)

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if not self.sent and trainer.global_step + 1 == self.step:
            self.sent = True
            os.kill(os.getpid(), self.signum)
