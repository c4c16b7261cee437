"""A results document from run folders: docs/results/<name>.md from docs/results/<name>.yaml.

    python scripts/results_doc.py docs/results/cpu.yaml [--root .] [--out docs/results/cpu.md]
    python scripts/results_doc.py docs/results/cpu.yaml --only "time scattering"

``--only`` rebuilds the sections whose titles contain the given text and keeps every other
section of the existing document as it is (their runs need not be on this machine).

The YAML holds the title, the prose and the commands of each section and where its runs are
(see experiments.analysis.results_doc); every number of the document comes from the runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("spec", type=Path, help="the document's YAML spec")
    ap.add_argument("--root", type=Path, default=Path("."), help="where 'runs' paths start")
    ap.add_argument("--out", type=Path, default=None, help="default: the spec with .md")
    ap.add_argument(
        "--only",
        action="append",
        default=None,
        metavar="TITLE_PART",
        help="rebuild only this section (repeatable); keep the others from --out",
    )
    args = ap.parse_args(argv)
    # Imported after parsing: --help answers without torch.
    import yaml

    from experiments.analysis.errors import MixedConfigError
    from experiments.analysis.results_doc import build_document
    from experiments.audio_io import atomic_output

    out = args.out or args.spec.with_suffix(".md")
    try:
        spec = yaml.safe_load(args.spec.read_text())
        existing = out.read_text() if args.only else None
        text = build_document(spec, args.root, only=args.only, existing=existing)
    except (OSError, yaml.YAMLError, ValueError, MixedConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    with atomic_output(out) as tmp:
        tmp.write_text(text)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
