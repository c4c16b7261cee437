"""``index.html`` of the listening page: static markup, every row present, the extra ones
hidden; ``listen.js`` (redraw, level switch) and ``listen.css`` sit beside it.

Each cell: a spectrogram ``<img>``, an ``<audio>`` whose ``data-volume-original`` is the
``volume`` playing it at its original level, θ or θ̂, and the sound's error (the row's lowest
marked). Hooks the script and the browser test rely on: ``#redraw``, ``#normalise``,
``section.listen-table[data-rows]``, ``tr.sound-row[data-row]``.
"""

from __future__ import annotations

import math
from html import escape

from experiments.listen.audio_files import PEAK
from experiments.listen.page_model import Page, PageCell, PageColumn, PageTable
from experiments.listen.spectrogram import DYNAMIC_RANGE_DB, lowest_frequency

__all__ = ["ERROR_LABELS", "page_html"]

# How each per-example error is named and printed on the page.
ERROR_LABELS = {
    "theta_l1": ("θ L1 (‰ of each parameter's range, averaged)", "{:.1f} ‰"),
    "mss_log_linear": ("MSS log + linear distance", "{:.3f}"),
}
# θ vectors longer than this are folded into a <details> element.
INLINE_THETA = 4


def _error_text(name: str, value: float) -> str:
    fmt = ERROR_LABELS.get(name, (name, "{:.4g}"))[1]
    return fmt.format(value)


def _theta_html(symbol: str, names: tuple[str, ...], theta: tuple[float, ...] | None) -> str:
    if theta is None or not names:
        return ""
    pairs = [f"{escape(n)} {v:.2f}" for n, v in zip(names, theta, strict=True)]
    if len(pairs) <= INLINE_THETA:
        return f'<div class="theta">{symbol} {" · ".join(pairs)}</div>'
    items = "".join(f"<li>{p}</li>" for p in pairs)
    return (
        f'<details class="theta"><summary>{symbol} ({len(pairs)} values)</summary>'
        f"<ul>{items}</ul></details>"
    )


def _cell(cell: PageCell, table: PageTable, alt: str, is_target: bool) -> str:
    audio = cell.audio
    flag = (
        f'<span class="loud" title="original peak {audio.peak:.2f}: above −1 dBFS, plays at '
        f'−1 dBFS at original level">▲</span>'
        if audio.clipped
        else ""
    )
    parts = [
        f'<td class="cell{" target" if is_target else ""}">',
        f'<img class="spec" src="{escape(cell.spectrogram)}" alt="{escape(alt)}" '
        'width="192" height="72" loading="eager">',
        f'<audio controls preload="metadata" src="{escape(audio.name)}" '
        f'data-volume-original="{audio.volume:.6g}" data-peak="{audio.peak:.6g}"></audio>',
        _theta_html("θ" if is_target else "θ̂", table.theta_names, cell.theta),
    ]
    if cell.error is not None:
        best = " best" if cell.best else ""
        parts.append(
            f'<div class="error{best}">{_error_text(table.error_name, cell.error)}{flag}</div>'
        )
    elif flag:
        parts.append(f'<div class="error">{flag}</div>')
    parts.append("</td>")
    return "".join(parts)


def _column_head(col: PageColumn) -> str:
    error = ""
    if col.test_error is not None:
        shown = col.metric.removeprefix("test/")
        error = f" · test {escape(shown)} {col.test_error:.4g}"
    links = " · ".join(f'<a href="{escape(path)}">{escape(text)}</a>' for text, path in col.links)
    return (
        f'<th class="loss" scope="col"><div class="name">{escape(col.loss)}</div>'
        f'<div class="how">seed {col.seed} ({escape(col.how)}){error}</div>'
        f'<div class="how">checkpoint {escape(col.checkpoint)}</div>'
        f'<div class="links">{links}</div></th>'
    )


def _table(table: PageTable) -> str:
    label, _ = ERROR_LABELS.get(table.error_name, (table.error_name, ""))
    n_rows = len(table.shown)
    meta = (
        f"{len(table.rows)} of its {table.n_test} test sounds kept, {n_rows} shown at a time "
        f"(Redraw picks others); {table.sr} Hz."
    )
    if table.error_name:
        meta += f" Under each reconstruction: its {escape(label)}; the row's lowest in bold."
    head = "".join(_column_head(c) for c in table.columns)
    body = []
    for i, row in enumerate(table.rows):
        hidden = "" if i in table.shown else " hidden"
        cells = [_cell(row.target, table, f"{row.label}: target", True)]
        cells += [
            _cell(cell, table, f"{row.label}: {col.loss}", False)
            for cell, col in zip(row.cells, table.columns, strict=True)
        ]
        body.append(
            f'<tr class="sound-row" data-row="{i}"{hidden}>'
            f'<th class="sound" scope="row">{escape(row.label)}</th>{"".join(cells)}</tr>'
        )
    return (
        f'<section class="listen-table" id="{escape(table.slug)}" data-rows="{n_rows}">'
        f'<h2>{escape(table.title)}</h2><p class="meta">{meta}</p>'
        '<div class="scroll"><table><thead><tr><th scope="col">test sound</th>'
        f'<th scope="col">target</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div></section>"
    )


def _runs(page: Page) -> str:
    items = [
        f"<li>{escape(r.experiment)} / {escape(r.loss)} / seed {r.seed}: "
        f"<code>{escape(r.folder)}</code>{'' if r.used else ' (not shown)'}</li>"
        for r in page.runs
    ]
    skipped = [
        f"<li><code>{escape(folder)}</code>: {escape(reason)}</li>"
        for folder, reason in page.skipped
    ]
    out = f'<h2>Runs</h2><ul class="runs">{"".join(items)}</ul>'
    if skipped:
        out += f'<h3>Folders left out</h3><ul class="runs">{"".join(skipped)}</ul>'
    return f'<section class="provenance">{out}</section>'


def page_html(page: Page) -> str:
    """The whole ``index.html``."""
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in page.notes)
    low = sorted({lowest_frequency(t.sr) for t in page.tables})
    low_text = " / ".join(f"{f:.0f}" for f in low) or "20"
    legend = (
        f"Spectrograms: log-frequency axis ({low_text} Hz to Nyquist), original levels, one "
        f"colour scale per row (its loudest band at the top colour, {DYNAMIC_RANGE_DB:.0f} dB "
        f"range). Peak-normalised: every sound peaks at {20 * math.log10(PEAK):.0f}"
        " dBFS; original level: as the run wrote it (▲: louder than that, played at it)."
        f" Audio: {escape(page.audio_format)}."
    )
    tables = "".join(_table(t) for t in page.tables)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{escape(page.title)}</title><link rel="stylesheet" href="listen.css"></head>'
        f"<body><header><h1>{escape(page.title)}</h1>{notes}"
        '<div class="controls"><button id="redraw" type="button">Redraw rows</button>'
        '<label><input type="checkbox" id="normalise" checked> peak-normalised</label>'
        '<span class="level-state" id="level-state">(unchecked: original level)</span></div>'
        f'<p class="legend">{legend}</p></header><main>{tables}{_runs(page)}</main>'
        '<script src="listen.js"></script></body></html>\n'
    )
