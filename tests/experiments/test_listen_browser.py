"""The listening page in a real browser: built from tiny training runs, opened from file:// in
headless Chromium (Debian's ``chromium``), every player played, every spectrogram drawn, the
level switch and the redraw button used. The screenshots stay in the test's tmp folder.

Without Chromium the test is skipped, unless ``LISTEN_REQUIRE_CHROMIUM=1`` (``.ci/run`` sets
it after installing the browser), where a missing browser fails it.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ROOT

from experiments.listen.chromium import find_chromium
from experiments.listen.page_check import check_page
from experiments.listen.site import build_site
from experiments.listen.synthetic_runs import write_synthetic_sweep

PLAY_S = 0.3


@pytest.fixture(scope="module")
def browser_available() -> None:
    if find_chromium() is None:
        if os.environ.get("LISTEN_REQUIRE_CHROMIUM") == "1":
            pytest.fail("LISTEN_REQUIRE_CHROMIUM=1, but no chromium on PATH (apt-get install it)")
        pytest.skip("no chromium on PATH (apt-get install chromium); .ci/run installs it")


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory):
    """Two real one-epoch tiny runs (mss_linear, ploss), tested, each keeping 3 test sounds."""
    root = tmp_path_factory.mktemp("listen") / "runs"
    overrides = [
        "preset=tiny",
        "loss=mss_linear,ploss",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=2",
        "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1",
        "trainer.enable_progress_bar=false",
        "validate_before_fit=false",
        "callbacks=[model_checkpoint,test_audio]",
        "callbacks.test_audio.n_examples=3",
        "logger=csv",
        f"hydra.sweep.dir={root}",
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", HYDRA_FULL_ERROR="1")
    proc = subprocess.run([sys.executable, "scripts/train.py", "-m", *overrides], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root


def _assert_ok(check, n_players: int) -> None:
    assert check.problems == []
    assert check.n_audio == n_players and check.n_images == n_players
    assert min(check.played_s) >= PLAY_S
    assert check.screenshot is not None and check.screenshot.stat().st_size > 10_000


def test_page_from_tiny_runs_in_chromium(browser_available, tiny_sweep, tmp_path) -> None:
    out = tmp_path / "page"
    report = build_site([tiny_sweep], out, rows=2)
    assert report.n_tables == 1 and report.n_runs == 2
    check = check_page(out / "index.html", tmp_path / "listen_page.png", play_s=PLAY_S)
    print(f"screenshot: {check.screenshot}")
    _assert_ok(check, n_players=3 * 3)  # 3 sounds x (target, mss_linear, ploss)


def test_page_of_recordings_in_ogg_in_chromium(browser_available, tmp_path) -> None:
    """No θ (recorded drums), Ogg Vorbis audio at 44.1 kHz: plays the same."""
    root = tmp_path / "runs"
    write_synthetic_sweep(root, "tr808_meso", ["mss_linear", "scrapl"], [0], n_examples=2,
                          sr=44100, theta_names=None)  # fmt: skip
    out = tmp_path / "page"
    build_site([root], out, rows=2, audio_format="ogg")
    check = check_page(out / "index.html", tmp_path / "listen_recordings.png", play_s=PLAY_S)
    _assert_ok(check, n_players=2 * 3)  # 2 sounds x (target, mss_linear, scrapl)
    assert "θ̂" not in (out / "index.html").read_text()
