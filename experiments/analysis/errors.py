"""The errors of run-folder reading and aggregation."""

from __future__ import annotations

__all__ = ["MixedConfigError", "RunFolderError"]


class RunFolderError(ValueError):
    """A run folder that cannot be used (missing, partial or malformed files); the message is
    the reason, shown next to the folder in the aggregation report."""


class MixedConfigError(ValueError):
    """Runs of different configurations were found under one (experiment, loss) key."""
