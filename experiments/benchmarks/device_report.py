"""The Markdown document of ``scripts/gpu_check.py``: sections of figures, each figure with
the device that produced it, and what failed or was skipped (never a figure made up)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from experiments.audio_io import atomic_output

__all__ = ["Figure", "Report"]


@dataclass(frozen=True)
class Figure:
    """One row: what was measured, its value (text, with its unit), the device that
    produced it, and a note (e.g. the paper's figure beside it, or pass / FAIL)."""

    what: str
    value: str
    device: str
    note: str = ""

    def __post_init__(self) -> None:
        for name in ("what", "value", "device"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(
                    f"Figure.{name} must be a non-empty str, got {getattr(self, name)!r}"
                )


@dataclass
class Report:
    """Sections in order; each holds figures or says why it has none."""

    title: str
    preamble: list[str] = field(default_factory=list)
    sections: dict[str, list[Figure]] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)

    def add(self, section: str, figure: Figure) -> None:
        if not isinstance(figure, Figure):
            raise TypeError(f"figure must be a Figure, got {type(figure).__name__}")
        self.sections.setdefault(section, []).append(figure)

    def problem(self, section: str, text: str) -> None:
        """Record that ``section`` failed or was skipped, and why (shown in the document)."""
        self.sections.setdefault(section, [])
        self.problems[section] = text

    def markdown(self) -> str:
        lines = [f"# {self.title}", "", *self.preamble]
        for section, figures in self.sections.items():
            lines += ["", f"## {section}", ""]
            if section in self.problems:
                lines += [f"**Not complete:** {self.problems[section]}", ""]
            if figures:
                lines += ["| what | value | device | note |", "|---|---|---|---|"]
                for f in figures:
                    cells = [c.replace("|", "\\|") for c in (f.what, f.value, f.device, f.note)]
                    lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def write(self, path: str | os.PathLike) -> Path:
        """Write the document atomically (a kill never leaves half of it)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as tmp:
            tmp.write_text(self.markdown(), encoding="utf-8")
        return path
