"""What the console of a run leaves out, and the one known third-party warning silenced.

The run's ``train.log`` keeps every record; the console (configs/hydra/default.yaml's
``job_logging``) drops, with :class:`QuietConsole`, the lines a reader does not need while a
run goes: the θ-IS warmup's line per path (``path_idx = ..., curr_vals = ...``) and
Lightning's advertisement for its cloud logger.

:func:`silence_known_warnings` ignores Lightning 2.6's ``LeafSpec`` ``FutureWarning``: its own
``lightning/pytorch/utilities/_pytree.py`` builds ``LeafSpec()``, which torch >= 2.10
deprecates, at every training and validation step. Nothing here calls it, so there is
nothing to change on this side; the filter names the message and the module, so that any
other warning still shows.

:func:`single_lightning_output`: ``import lightning`` gives its logger a console handler of its
own; imported after the run's logging is set up (the scripts import it late, so that
``--help`` is quick), Lightning's lines would then be printed twice, by that handler and by
the run's. Without it they go once, through the run's handlers (console and train.log).
"""

from __future__ import annotations

import logging
import warnings

__all__ = ["QuietConsole", "silence_known_warnings", "single_lightning_output"]

# (logger name, start of the message) of records the console leaves out.
QUIET = (
    ("scrapl.scrapl_loss", "path_idx = "),
    ("lightning.pytorch.utilities.rank_zero", "💡 Tip: For seamless cloud logging"),
)


class QuietConsole(logging.Filter):
    """A handler filter dropping the records of :data:`QUIET`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        message = record.getMessage()
        return not any(record.name == name and message.startswith(start) for name, start in QUIET)


def silence_known_warnings() -> None:
    """Ignore Lightning's ``LeafSpec`` deprecation (see the module docstring)."""
    warnings.filterwarnings(
        "ignore",
        message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
        category=FutureWarning,
        module=r"lightning\.pytorch\.utilities\._pytree",
    )


def single_lightning_output() -> None:
    """Remove the console handler ``import lightning`` adds to its logger, when the root
    logger has handlers of its own (a Hydra run); see the module docstring."""
    if not logging.getLogger().handlers:
        return
    logger = logging.getLogger("lightning")
    for handler in list(logger.handlers):
        if type(handler) is logging.StreamHandler:
            logger.removeHandler(handler)
