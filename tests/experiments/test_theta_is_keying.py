"""The θ-IS warmup folder is keyed by the set-up, not by the audio's bits: the same folder
in every process and at every thread count, one folder and one π on every DDP rank."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
from test_theta_is import TinyDataset, TinyEncoder, TinySynth, make_loss, prepare

from experiments.theta_is import run_theta_is
from experiments.theta_is_cache import BATCHES_NAME

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)])}


def _last_bit_up(synth: TinySynth) -> TinySynth:
    """The same synth (same class and repr) whose audio is one unit in the last place up."""
    render = synth.forward
    synth.forward = lambda theta, seed: torch.nextafter(
        render(theta, seed), torch.tensor(float("inf"))
    )
    return synth


_FOLDER_SCRIPT = """
import sys, torch
torch.set_num_threads(int(sys.argv[2]))
from test_theta_is import TinyDataset, TinyEncoder, TinySynth, make_loss, prepare
print(prepare(make_loss(), TinyEncoder(), TinySynth(), TinyDataset(8), 4, 2, sys.argv[1]).save_dir)
"""


def test_folder_is_the_same_across_processes_thread_counts_and_last_bits(tmp_path):
    here = prepare(make_loss(), TinyEncoder(), TinySynth(), TinyDataset(8), 4, 2, tmp_path)
    for threads in (2,):  # another process, another thread count than this one's (1)
        proc = subprocess.run(
            [sys.executable, "-c", _FOLDER_SCRIPT, str(tmp_path), str(threads)],
            env={**_ENV, "OMP_NUM_THREADS": str(threads)}, capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert proc.stdout.strip() == str(here.save_dir)
    shifted = _last_bit_up(TinySynth())
    other = prepare(make_loss(), TinyEncoder(), shifted, TinyDataset(8), 4, 2, tmp_path)
    assert not torch.equal(other.theta_kwargs[0]["x"], here.theta_kwargs[0]["x"])
    assert other.save_dir == here.save_dir


def test_a_process_with_other_last_bits_continues_the_folder_on_its_batches(tmp_path):
    """A process whose renders differ in the last bit (another device) resumes a folder
    started elsewhere: it computes on the folder's batches, so the library's record of the
    data agrees and the values are those of one audio."""
    loss = make_loss()
    n = loss.n_paths
    enc, synth = TinyEncoder(), TinySynth()
    first = prepare(loss, enc, synth, TinyDataset(8), 4, 2, tmp_path, n_iter=1)
    run_theta_is(loss, enc, synth, first, 1, 0, 2)
    saved = torch.load(first.save_dir / BATCHES_NAME, weights_only=True)
    assert torch.equal(saved["theta_kwargs"][0]["x"], first.theta_kwargs[0]["x"])
    enc, shifted = TinyEncoder(), _last_bit_up(TinySynth())
    second = prepare(loss, enc, shifted, TinyDataset(8), 4, 2, tmp_path, n_iter=1)
    probs = run_theta_is(loss, enc, shifted, second, 1, 2, n)  # no mismatch error
    assert probs is not None
    # Its own render differs from the folder's batches, on which it computed.
    assert not torch.equal(second.theta_kwargs[0]["x"], saved["theta_kwargs"][0]["x"])


def test_two_gloo_ranks_whose_audio_differs_in_the_last_bit_hold_one_probs(tmp_path):
    init = tmp_path / "init"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(HERE / "theta_is_rank_worker.py"),
                str(rank),
                "2",
                str(init),
                str(tmp_path / "cache"),
                str(tmp_path / f"rank{rank}.pt"),
            ],
            env={**_ENV, "OMP_NUM_THREADS": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for rank in (0, 1)
    ]
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, out[-4000:]
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert not torch.equal(r0["own_audio"], r1["own_audio"])  # the renders do differ
    assert r0["folder"] == r1["folder"]
    assert torch.equal(r0["probs"], r1["probs"])
    (folder,) = (tmp_path / "cache").iterdir()
    batches = torch.load(folder / BATCHES_NAME, weights_only=True)
    assert torch.equal(batches["theta_kwargs"][0]["x"], r0["own_audio"])  # rank 0's audio
