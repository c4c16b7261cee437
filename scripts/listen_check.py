"""Open a listening page in headless Chromium, check it as a listener would, screenshot it.

    python scripts/listen_check.py out/listen [--screenshot out/listen.png] [--play-s 0.3]

Every player must load and play ``--play-s`` seconds without a media error, every
spectrogram must be drawn, the level switch must change the players' volumes and the redraw
button the rows shown (experiments/listen/page_check.py). Needs Debian's ``chromium``
(apt-get install chromium); exits 1 listing the problems found.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from experiments.listen.chromium import ChromiumError
from experiments.listen.page_check import check_page


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("page", help="the page's folder (or its index.html)")
    parser.add_argument("--screenshot", default=None, help="PNG of the page as it opens")
    parser.add_argument("--play-s", type=float, default=0.3, help="seconds each player plays")
    parser.add_argument("--width", type=int, default=1400, help="viewport width (CSS pixels)")
    args = parser.parse_args(argv)
    page = Path(args.page)
    index = page / "index.html" if page.is_dir() else page
    if not index.is_file():
        parser.exit(2, f"listen_check.py: error: no index.html at {index}\n")
    if not 0 < args.play_s <= 5:
        parser.exit(2, f"listen_check.py: error: --play-s must be in (0, 5], got {args.play_s}\n")
    try:
        check = check_page(index, args.screenshot, play_s=args.play_s, width=args.width)
    except ChromiumError as err:
        parser.exit(2, f"listen_check.py: error: {err}\n")
    print(
        f"{index}: {check.n_tables} tables, {check.n_audio} players (each played to >= "
        f"{min(check.played_s, default=0):.2f} s), {check.n_images} spectrograms"
    )
    if check.screenshot is not None:
        print(f"screenshot: {check.screenshot}")
    for problem in check.problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 0 if check.ok else 1


if __name__ == "__main__":
    sys.exit(main())
