"""A folder replaced whole: the new content is built beside it, then renamed into place."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["replace_folder"]


def replace_folder(new: str | os.PathLike, dest: str | os.PathLike) -> None:
    """Put the finished folder ``new`` at ``dest`` (same file system).

    A folder cannot be renamed over a non-empty one, so an older ``dest`` is first moved
    aside, then deleted: a reader finds the old folder, for a moment none, then the new
    one, never a mix of the two.
    """
    new, dest = Path(new), Path(dest)
    old = None
    if dest.exists():
        old = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.old."))
        os.replace(dest, old / dest.name)
    os.replace(new, dest)
    if old is not None:
        shutil.rmtree(old)
