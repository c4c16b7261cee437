"""Peak memory of this process, as the benchmarks measure it (standard library only)."""

from __future__ import annotations

import resource
import sys

__all__ = ["peak_rss_mb", "reset_peak_rss"]


def peak_rss_mb() -> float:
    """Peak RSS (the kernel's VmHWM) in MiB since :func:`reset_peak_rss`, else since the
    process started; ``getrusage``'s figure where /proc is missing."""
    try:
        with open("/proc/self/status") as f:
            return next(int(ln.split()[1]) for ln in f if ln.startswith("VmHWM:")) / 1024.0
    except (OSError, StopIteration):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB; bytes on macOS
        return peak / 2.0**20 if sys.platform == "darwin" else peak / 1024.0


def reset_peak_rss() -> bool:
    """Reset the RSS high-water mark (Linux >= 4.0); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False
