"""Colours and styles that tell every loss of a figure apart.

Matplotlib's default cycle has ten colours; an experiment has up to a dozen losses. The
first ten series keep the cycle's colours, solid lines and round markers; the next ten reuse
them with dashed lines and square markers, so no two of the first twenty series of a figure
look alike (beyond twenty the styles repeat).
"""

from __future__ import annotations

__all__ = ["series_style"]

_STYLES = (("-", "o"), ("--", "s"))


def series_style(index: int) -> dict[str, str]:
    """``{"color", "linestyle", "marker"}`` of the ``index``-th series (0-based)."""
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise ValueError(f"index must be a non-negative int, got {index!r}")
    linestyle, marker = _STYLES[(index // 10) % len(_STYLES)]
    return {"color": f"C{index % 10}", "linestyle": linestyle, "marker": marker}
