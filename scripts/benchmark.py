"""Benchmarks of the loss, the training step and the tools, one entry point.

    python scripts/benchmark.py <what> [options]     # python scripts/benchmark.py <what> --help

Each benchmark prints its figures (and its machine: CPU, threads, load); docs/benchmarks.md
has the commands and the measured results.
"""

from __future__ import annotations

import importlib
import sys

from benchmarks import WHAT


def usage() -> str:
    width = max(map(len, WHAT))
    rows = "\n".join(f"  {name:<{width}}  {what}" for name, (_, what) in WHAT.items())
    head = "usage: python scripts/benchmark.py <what> [options]"
    return f"{head}\n\n{__doc__.strip()}\n\nwhat:\n{rows}\n"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), end="")
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in WHAT:
        print(f"error: unknown benchmark {name!r}; choose from {', '.join(WHAT)}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"benchmarks.{WHAT[name][0]}")
    # The module's usage names the command as typed.
    sys.argv = [f"{sys.argv[0]} {name}", *rest]
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
