// The listening page's two controls; plain JavaScript, no framework, works from file://.
//  - #redraw: every table shows another random draw of its kept rows (never the same set
//    again while the table has more rows than it shows);
//  - #normalise: checked, every <audio> plays at volume 1 (the files are peak-normalised);
//    unchecked, at its data-volume-original (the sound's original level).
// One sound plays at a time: starting one pauses the others.
"use strict";
(function () {
  function soundRows(section) {
    return Array.from(section.querySelectorAll("tr.sound-row"));
  }

  function shuffled(items) {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  function redraw(section) {
    const rows = soundRows(section);
    const n = Math.min(parseInt(section.dataset.rows, 10) || 1, rows.length);
    const before = rows.filter((r) => !r.hidden);
    let pick = shuffled(rows).slice(0, n);
    if (rows.length > n && pick.every((r) => before.includes(r))) {
      // The same set again: swap one shown row for one that was hidden.
      const hidden = rows.filter((r) => !before.includes(r));
      pick[Math.floor(Math.random() * n)] = hidden[Math.floor(Math.random() * hidden.length)];
    }
    for (const row of rows) {
      const show = pick.includes(row);
      if (!show) {
        row.querySelectorAll("audio").forEach((a) => a.pause());
      }
      row.hidden = !show;
    }
  }

  function applyLevel() {
    const normalised = document.getElementById("normalise").checked;
    document.querySelectorAll("audio").forEach((audio) => {
      const original = parseFloat(audio.dataset.volumeOriginal);
      audio.volume = normalised ? 1 : Math.min(1, Math.max(0, isFinite(original) ? original : 1));
    });
    document.body.dataset.level = normalised ? "normalised" : "original";
    document.getElementById("level-state").textContent = normalised
      ? "(unchecked: original level)"
      : "(original level)";
  }

  function onlyOne(event) {
    document.querySelectorAll("audio").forEach((audio) => {
      if (audio !== event.target) {
        audio.pause();
      }
    });
  }

  document.getElementById("redraw").addEventListener("click", () => {
    document.querySelectorAll("section.listen-table").forEach(redraw);
  });
  document.getElementById("normalise").addEventListener("change", applyLevel);
  document.querySelectorAll("audio").forEach((a) => a.addEventListener("play", onlyOne));
  applyLevel();
})();
