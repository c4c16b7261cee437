"""Lightning's CSV logger, able to continue the ``metrics.csv`` of a run resumed in place.

Lightning's CSV writer deletes an existing ``metrics.csv`` when it starts in a non-empty
folder. A run continued in its own folder (``auto_resume=true``: a requeued job) must keep
the rows before its checkpoint (the rows after it were removed by
:func:`experiments.checkpoints.trim_metrics_after`), so with ``append=True`` the writer
keeps the file and its columns, and appends.
"""

from __future__ import annotations

import csv
import os

from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment

from scrapl.validation import check_bool

__all__ = ["ContinuingCSVLogger"]


class _AppendingWriter(ExperimentWriter):
    def __init__(self, log_dir: str) -> None:
        super().__init__(log_dir)
        if os.path.isfile(self.metrics_file_path):
            with open(self.metrics_file_path, newline="") as f:
                self.metrics_keys = list(csv.DictReader(f).fieldnames or [])

    def _check_log_dir_exists(self) -> None:
        # Lightning's version deletes metrics.csv: here it is the history being continued.
        pass


class ContinuingCSVLogger(CSVLogger):
    """:class:`lightning.pytorch.loggers.CSVLogger` (same arguments), plus ``append``: keep
    and extend an existing ``metrics.csv`` instead of replacing it."""

    def __init__(self, *args, append: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.append = check_bool("append", append)

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            writer = _AppendingWriter if self.append else ExperimentWriter
            self._experiment = writer(log_dir=self.log_dir)
        return self._experiment
