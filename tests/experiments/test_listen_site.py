"""scripts/listen.py and experiments/listen: the page's content from run folders, and the
clear refusals of input it cannot be built from."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pytest
import soundfile as sf
from conftest import ROOT

from experiments.listen.audio_files import PEAK
from experiments.listen.runs import ListenError
from experiments.listen.site import MARKER, build_site, default_rows
from experiments.listen.synthetic_runs import write_synthetic_run, write_synthetic_sweep
from experiments.test_audio_store import read_test_audio


class Elements(HTMLParser):
    """Every start tag with its attributes, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append((tag, dict(attrs)))

    def all(self, tag: str, **match) -> list[dict]:
        return [
            a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in match.items())
        ]


def _parse(page) -> Elements:
    parser = Elements()
    parser.feed((page / "index.html").read_text())
    return parser


@pytest.fixture
def sweep(tmp_path):
    root = tmp_path / "runs"
    # Test θ L1 per seed: mss_linear 300 / 100 / 200 (median: seed 2), scrapl 50 / 70.
    for seed, error in ((0, 300.0), (1, 100.0), (2, 200.0)):
        write_synthetic_run(root, "granular", "mss_linear", seed, n_examples=5, test_error=error)
    for seed, error in ((0, 50.0), (1, 70.0)):
        write_synthetic_run(root, "granular", "scrapl", seed, n_examples=5, test_error=error)
    write_synthetic_sweep(root, "tr808_meso", ["mss_linear", "scrapl"], [0], n_examples=3,
                          sr=16000, seconds=0.5, theta_names=None)  # fmt: skip
    return root


def test_page_from_a_sweep(sweep, tmp_path) -> None:
    out = tmp_path / "page"
    report = build_site([sweep], out, rows=2)
    assert report.n_tables == 2 and report.n_runs == 7
    assert report.n_sounds == 5 * 3 + 3 * 3  # targets + one run per loss
    html = _parse(out)
    sections = html.all("section")
    assert [s["data-rows"] for s in sections if "data-rows" in s] == ["2", "2"]
    rows = html.all("tr", **{"class": "sound-row"})
    assert len(rows) == 8 and sum("hidden" not in r for r in rows) == 4
    audios, images = html.all("audio"), html.all("img")
    assert len(audios) == len(images) == 24
    for audio, image in zip(audios, images, strict=True):
        assert (out / audio["src"]).is_file() and (out / image["src"]).is_file()
    links = [a["href"] for a in html.all("a")]
    assert "t0/runs/mss_linear_seed2/config.yaml" in links  # the median seed of mss_linear
    assert "t0/runs/scrapl_seed0/metrics.csv" in links  # lower middle of two: the better one
    page = (out / "index.html").read_text()
    assert "median of 3 seeds by test/theta_l1" in page and "test/mss_log_linear" not in page
    # The level switch's data: the file is peak-normalised, the original level a volume.
    run = next((sweep / "granular" / "mss_linear").glob("*seed2"))
    kept = read_test_audio(run / "test_audio").examples[0]
    original = sf.read(kept.recon)[0]
    written, sr = sf.read(out / "t0" / "audio" / "r00_c0.wav")
    peak = np.abs(original).max()
    assert sr == 8000 and np.abs(written).max() == pytest.approx(PEAK, abs=2**-15)
    # 16-bit PCM: within one quantisation step of the original, rescaled.
    np.testing.assert_allclose(written, original * PEAK / peak, atol=2**-15)
    (cell,) = [a for a in audios if a["src"] == "t0/audio/r00_c0.wav"]
    assert float(cell["data-volume-original"]) == pytest.approx(peak / PEAK, rel=1e-5)
    record = json.loads((out / MARKER).read_text())
    assert record["rows"] == 2 and len(record["runs"]) == 7
    # A second build replaces the page; the run folders are untouched by both.
    before = sorted(str(p.relative_to(sweep)) for p in sweep.rglob("*"))
    build_site([sweep], out, seed=0, losses=["scrapl", "mss_linear"], audio_format="ogg")
    assert sorted(str(p.relative_to(sweep)) for p in sweep.rglob("*")) == before
    html = _parse(out)
    assert (out / "t0" / "audio" / "r00_c0.ogg").is_file()
    heads = (out / "index.html").read_text()
    assert heads.index(">scrapl<") < heads.index(">mss_linear<")
    assert not list(tmp_path.glob(".page.*"))  # no temporary folder left


def test_default_rows_spread() -> None:
    assert default_rows(16, 4) == (0, 5, 10, 15)
    assert default_rows(3, 4) == (0, 1, 2)


def test_errors_name_the_folder(tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ListenError, match=f"{empty}: no run folder in it"):
        build_site([empty], tmp_path / "p")
    with pytest.raises(ListenError, match="not a folder"):
        build_site([tmp_path / "missing"], tmp_path / "p")

    # Runs of one experiment whose test sets differ: their rows cannot be aligned.
    root = tmp_path / "runs"
    a = write_synthetic_run(root, "granular", "mss_linear", 0)
    b = write_synthetic_run(root, "granular", "scrapl", 0,
                            keys=[{"point": 100 + i, "seed": i} for i in range(4)])  # fmt: skip
    with pytest.raises(ListenError, match="cannot be aligned") as err:
        build_site([root], tmp_path / "p")
    assert str(a) in str(err.value) and str(b) in str(err.value)

    # Equal keys, other targets (another synth set-up).
    shutil.rmtree(b)
    c = write_synthetic_run(root, "granular", "scrapl", 0, seconds=0.5)
    with pytest.raises(ListenError, match="the target of test sound grid point 0.*differs") as err:
        build_site([root], tmp_path / "p")
    assert str(c) in str(err.value)

    # A complete run without test sounds (made before they were kept).
    shutil.rmtree(c / "test_audio")
    with pytest.raises(ListenError, match=f"{c}: no test sounds.*scripts/evaluate.py") as err:
        build_site([root], tmp_path / "p")
    shutil.rmtree(c)

    with pytest.raises(ListenError, match="granular/mss_linear: no run with seed 3 .seeds: 0"):
        build_site([root], tmp_path / "p", seed=3)
    with pytest.raises(ListenError, match="--losses: no runs of jtfs"):
        build_site([root], tmp_path / "p", losses=["jtfs"])
    with pytest.raises(ValueError, match="rows must be an int >= 1"):
        build_site([root], tmp_path / "p", rows=0)
    with pytest.raises(ValueError, match="audio_format must be one of"):
        build_site([root], tmp_path / "p", audio_format="mp4")

    # The page never goes into run folders, nor over a folder it did not write.
    with pytest.raises(ListenError, match="inside or around the run folders"):
        build_site([root], root / "granular" / "page")
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "todo.txt").write_text("keep me")
    with pytest.raises(ListenError, match="a folder that a listening page did not write"):
        build_site([root], foreign)
    assert (foreign / "todo.txt").read_text() == "keep me"

    # Only partial runs: none to listen to, with the reason.
    partial = tmp_path / "partial"
    run = write_synthetic_run(partial, "granular", "scrapl", 0)
    (run / "metrics.csv").write_text("step,epoch,train/loss\n0,0,1.0\n")
    with pytest.raises(ListenError, match="no complete run to listen to.*no test row"):
        build_site([partial], tmp_path / "p")


def _listen(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "scripts/listen.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_script(sweep, tmp_path) -> None:
    proc = _listen(str(sweep), "--out", str(tmp_path / "page"), "--rows", "3")
    assert proc.returncode == 0, proc.stderr
    assert "2 tables, 24 sounds from 7 runs" in proc.stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = _listen(str(empty), "--out", str(tmp_path / "page2"))
    assert proc.returncode == 2
    assert f"listen.py: error: {empty}: no run folder in it" in proc.stderr
