"""What the run's console leaves out (train.log keeps it), and the one silenced warning."""

from __future__ import annotations

import logging
import warnings

from experiments.console import QuietConsole, silence_known_warnings, single_lightning_output


def _record(name: str, level: int, message: str) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, None, None)


def test_quiet_console_drops_only_the_listed_info_lines() -> None:
    quiet = QuietConsole()
    assert not quiet.filter(_record("scrapl.scrapl_loss", logging.INFO, "path_idx = 3, curr"))
    assert quiet.filter(_record("scrapl.scrapl_loss", logging.WARNING, "path_idx = 3, curr"))
    assert quiet.filter(_record("scrapl.scrapl_loss", logging.INFO, "Saving warmup probs"))
    assert quiet.filter(_record("train", logging.INFO, "path_idx = 3"))
    tip = "💡 Tip: For seamless cloud logging and experiment tracking, try litlogger"
    assert not quiet.filter(_record("lightning.pytorch.utilities.rank_zero", logging.INFO, tip))
    assert quiet.filter(_record("lightning.pytorch.utilities.rank_zero", logging.INFO, "GPU"))


def test_only_lightnings_leafspec_warning_is_silenced() -> None:
    message = "`isinstance(treespec, LeafSpec)` is deprecated, use `isinstance(...)` instead."
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        silence_known_warnings()
        warnings.warn_explicit(message, FutureWarning, "_pytree.py", 21,
                               module="lightning.pytorch.utilities._pytree")  # fmt: skip
        warnings.warn_explicit(message, FutureWarning, "mine.py", 1, module="mine")
        warnings.warn_explicit("other", FutureWarning, "_pytree.py", 21,
                               module="lightning.pytorch.utilities._pytree")  # fmt: skip
    assert [(str(w.message), w.filename) for w in caught] == [
        (message, "mine.py"),
        ("other", "_pytree.py"),
    ]


def test_lightning_lines_go_once_through_the_runs_handlers() -> None:
    import lightning  # noqa: F401  (adds its console handler)

    logger = logging.getLogger("lightning")
    root = logging.getLogger()
    added = logging.NullHandler()
    before = list(logger.handlers)
    root.addHandler(added)
    try:
        single_lightning_output()
        assert not [h for h in logger.handlers if type(h) is logging.StreamHandler]
    finally:
        root.removeHandler(added)
        for handler in before:
            if handler not in logger.handlers:
                logger.addHandler(handler)
