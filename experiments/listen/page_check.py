"""A listening page opened in headless Chromium and checked the way a listener would use it.

:func:`check_page` loads ``index.html`` from ``file://``, waits for every spectrogram, keeps a
screenshot of the page as it opens, then checks:

* every ``<audio>`` (shown or hidden row) loads and plays: ``currentTime`` reaches
  ``play_s`` seconds with no media error (one player at a time: starting one pauses the
  others, which is checked too);
* every spectrogram image is loaded (``naturalWidth > 0``);
* the level switch: unchecked, each player's ``volume`` is its ``data-volume-original`` and
  some differ from 1 (else the switch would change nothing); checked again, all are 1;
* the redraw button: every table with more kept rows than it shows shows another set of
  ``data-rows`` rows, and the players of the rows it hid are paused.

Every failure is a line of :attr:`PageCheck.problems`; a page passes when there is none.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from experiments.listen.chromium import Chromium

__all__ = ["PageCheck", "check_page"]

_WAIT_IMAGES = """(async () => {
  const deadline = performance.now() + %(timeout_ms)d;
  const pending = () => Array.from(document.images).filter((i) => !i.complete);
  while (pending().length && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  return Array.from(document.images).map((i) => ({
    src: i.getAttribute("src"), complete: i.complete, width: i.naturalWidth,
  }));
})()"""

# Each player in turn: play until currentTime >= play_s (or the deadline), then pause. The
# previous player must have been paused by the page when this one started.
_PLAY_ALL = """(async () => {
  const wait = (ms) => new Promise((r) => setTimeout(r, ms));
  const players = Array.from(document.querySelectorAll("audio"));
  const out = [];
  let previous = null;
  for (const a of players) {
    const rec = { src: a.getAttribute("src"), reached: 0, error: null, othersPaused: true };
    try {
      if (previous) { await previous.play(); }
      a.currentTime = 0;
      await a.play();
      if (previous) { rec.othersPaused = previous.paused; previous.pause(); }
      const deadline = performance.now() + %(deadline_ms)d;
      while (a.currentTime < %(play_s)f && !a.ended && !a.error && performance.now() < deadline) {
        await wait(25);
      }
      rec.reached = a.currentTime;
      rec.ended = a.ended;
      a.pause();
    } catch (e) {
      rec.error = String(e);
    }
    if (a.error) { rec.error = "MediaError code " + a.error.code + ": " + a.error.message; }
    out.push(rec);
    previous = a;
  }
  if (previous) { previous.pause(); }
  return out;
})()"""

_LEVELS = """(() => {
  const box = document.getElementById("normalise");
  const players = Array.from(document.querySelectorAll("audio"));
  const read = () => players.map((a) => ({ volume: a.volume,
    original: Math.min(1, parseFloat(a.dataset.volumeOriginal)) }));
  const start = { checked: box.checked, players: read() };
  box.click();
  const unchecked = { checked: box.checked, level: document.body.dataset.level, players: read() };
  box.click();
  const back = { checked: box.checked, level: document.body.dataset.level, players: read() };
  return { start, unchecked, back };
})()"""

_ROWS = """(() => Array.from(document.querySelectorAll("section.listen-table")).map((s) => ({
  id: s.id, rows: parseInt(s.dataset.rows, 10),
  all: s.querySelectorAll("tr.sound-row").length,
  shown: Array.from(s.querySelectorAll("tr.sound-row")).filter((r) => !r.hidden)
    .map((r) => r.dataset.row),
  playingHidden: Array.from(s.querySelectorAll("tr.sound-row[hidden] audio"))
    .filter((a) => !a.paused).length,
})))()"""

_REDRAW = """(async () => {
  document.querySelectorAll("tr.sound-row:not([hidden]) audio").forEach((a) => a.play());
  await new Promise((r) => setTimeout(r, 50));
  document.getElementById("redraw").click();
})()"""


@dataclass
class PageCheck:
    """What :func:`check_page` found."""

    n_audio: int = 0
    n_images: int = 0
    n_tables: int = 0
    played_s: list[float] = field(default_factory=list)  # currentTime reached per player
    problems: list[str] = field(default_factory=list)
    screenshot: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def _check_levels(levels: dict, check: PageCheck) -> None:
    if not levels["start"]["checked"] or any(p["volume"] != 1 for p in levels["start"]["players"]):
        check.problems.append("the page does not open peak-normalised (volume 1 everywhere)")
    unchecked = levels["unchecked"]
    wrong = [
        i for i, p in enumerate(unchecked["players"]) if abs(p["volume"] - p["original"]) > 1e-6
    ]
    if unchecked["checked"] or unchecked["level"] != "original" or wrong:
        check.problems.append(
            f"original level: players {wrong[:5]} do not play at their data-volume-original"
        )
    if all(p["volume"] == 1 for p in unchecked["players"]):
        check.problems.append("the level switch changes no player's volume")
    back = levels["back"]
    if not back["checked"] or any(p["volume"] != 1 for p in back["players"]):
        check.problems.append("switching back to peak-normalised leaves a volume below 1")


def _check_redraw(before: list[dict], after: list[dict], check: PageCheck) -> None:
    for old, new in zip(before, after, strict=True):
        where = f"table {old['id']}"
        if len(new["shown"]) != min(old["rows"], old["all"]):
            check.problems.append(f"{where}: {len(new['shown'])} rows shown after redraw")
        if old["all"] > old["rows"] and set(new["shown"]) == set(old["shown"]):
            check.problems.append(f"{where}: redraw showed the same rows {old['shown']}")
        if new["playingHidden"]:
            check.problems.append(f"{where}: {new['playingHidden']} hidden players still play")


def check_page(
    index_html: str | os.PathLike,
    screenshot: str | os.PathLike | None = None,
    play_s: float = 0.3,
    timeout_s: float = 20.0,
    width: int = 1400,
) -> PageCheck:
    """Open and check the page (see the module docstring); ``screenshot``: where to save a
    PNG of the whole page as it opens (before any check touched it)."""
    index_html = Path(index_html)
    if not index_html.is_file():
        raise FileNotFoundError(f"no page at {index_html}")
    check = PageCheck()
    with Chromium(width=width, timeout=max(60.0, 4 * timeout_s)) as browser:
        browser.open(index_html)
        images = browser.evaluate(_WAIT_IMAGES % {"timeout_ms": int(timeout_s * 1000)})
        check.n_images = len(images)
        for image in images:
            if not image["complete"] or image["width"] <= 0:
                check.problems.append(f"spectrogram {image['src']} not drawn")
        if screenshot is not None:
            check.screenshot = browser.screenshot(screenshot)
        before = browser.evaluate(_ROWS)
        check.n_tables = len(before)
        players = browser.evaluate(
            _PLAY_ALL % {"play_s": play_s, "deadline_ms": int(timeout_s * 1000)}
        )
        check.n_audio = len(players)
        for p in players:
            check.played_s.append(p["reached"])
            if p["error"]:
                check.problems.append(f"audio {p['src']}: {p['error']}")
            elif p["reached"] < play_s:
                check.problems.append(
                    f"audio {p['src']}: played to {p['reached']:.3f} s, not {play_s} s"
                )
            if not p["othersPaused"]:
                check.problems.append(f"audio {p['src']}: starting it left another playing")
        _check_levels(browser.evaluate(_LEVELS), check)
        browser.evaluate(_REDRAW)
        _check_redraw(before, browser.evaluate(_ROWS), check)
        errors = [e for e in browser.events if e["method"] == "Runtime.exceptionThrown"]
        for e in errors:
            details = e["params"]["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            check.problems.append(f"JavaScript error: {json.dumps(text)}")
    if check.n_audio == 0:
        check.problems.append("the page has no audio player")
    return check
