"""Where Debian's ``hydrogen-data`` package puts the TR-808 emulation drum kit.

The kit (``TR808EmulationKit``, 16 one-shots as 44.1 kHz mono FLAC: kicks, snares, toms,
hats, cymbal, clap and percussion) is a free stand-in for the commercial TR-808 samples of
the paper. Install it with ``apt-get install --no-install-recommends hydrogen-data``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["HYDROGEN_TR808_DIRS", "find_hydrogen_tr808"]

# Debian's package, a source build's default prefix, and Hydrogen's per-user kits.
HYDROGEN_TR808_DIRS: tuple[Path, ...] = (
    Path("/usr/share/hydrogen/data/drumkits/TR808EmulationKit"),
    Path("/usr/local/share/hydrogen/data/drumkits/TR808EmulationKit"),
    Path.home() / ".hydrogen/data/drumkits/TR808EmulationKit",
)


def find_hydrogen_tr808(search_dirs: Sequence[str | os.PathLike] | None = None) -> Path:
    """The first of ``search_dirs`` (default :data:`HYDROGEN_TR808_DIRS`) holding FLAC files.

    Raises:
        FileNotFoundError: none does; the message says how to install the kit.
    """
    dirs = [Path(d) for d in (HYDROGEN_TR808_DIRS if search_dirs is None else search_dirs)]
    for folder in dirs:
        if folder.is_dir() and any(folder.glob("*.flac")):
            return folder
    raise FileNotFoundError(
        "Hydrogen's TR808EmulationKit was not found in "
        + ", ".join(str(d) for d in dirs)
        + ": install Debian's hydrogen-data package (apt-get install --no-install-recommends "
        "hydrogen-data) or use a folder of your own one-shots (data=one_shots data.root=DIR)"
    )
