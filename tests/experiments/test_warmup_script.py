"""scripts/warmup.py: path chunks, merging, and agreement with the training run's θ-IS."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from conftest import ONE_STEP_FIT
from omegaconf import open_dict

from experiments.theta_is import chunk_range

ROOT = Path(__file__).resolve().parents[2]
# Smallest warmup that still covers every path and θ dim: 1 example, 1 power iteration.
TINY_WARMUP = ["preset=tiny", "theta_is.n_examples=1", "theta_is.n_iter=1"]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_script", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def warmup_script():
    return _load("warmup")


@pytest.mark.parametrize("n_paths,n_chunks", [(315, 1), (315, 4), (28, 3), (5, 5), (3, 7)])
def test_chunks_cover_every_path_once(warmup_script, n_paths: int, n_chunks: int) -> None:
    ranges = [chunk_range(n_paths, n_chunks, c) for c in range(n_chunks)]
    covered = [p for start, end in ranges for p in range(start, end)]
    assert covered == list(range(n_paths))
    sizes = [end - start for start, end in ranges]
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize(
    "n_chunks,chunk,match",
    [
        (0, 0, "warmup.n_chunks"),
        (2, 2, r"warmup.chunk must be an int in \[0, 2\)"),
        (2, -1, "chunk"),
    ],
)
def test_bad_chunks_are_refused(warmup_script, n_chunks: int, chunk: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        chunk_range(10, n_chunks, chunk)


def test_warmup_needs_a_scrapl_loss(warmup_script, compose_train, tmp_path: Path) -> None:
    cfg = compose_train(
        [*TINY_WARMUP, "loss=mss_linear", f"theta_is.cache_dir={tmp_path}/w"], "warmup"
    )
    with pytest.raises(ValueError, match="needs a SCRAPL loss"):
        warmup_script.warmup(cfg)


def test_chunked_warmup_equals_the_training_callback(
    warmup_script, compose_train, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    common = [*TINY_WARMUP, f"theta_is.cache_dir={cache}", "warmup.n_chunks=2"]
    save_dir = warmup_script.warmup(compose_train([*common, "warmup.chunk=0"], "warmup"))
    assert save_dir.parent == cache and save_dir.name.startswith("granular_tiny_")
    assert not (save_dir / "probs.pt").exists()
    warmup_script.warmup(compose_train([*common, "warmup.chunk=1"], "warmup"))
    chunked = torch.load(save_dir / "probs.pt", weights_only=True)
    # Merging a complete folder recomputes the same π.
    warmup_script.warmup(compose_train([*common, "warmup.merge=true"], "warmup"))
    torch.testing.assert_close(torch.load(save_dir / "probs.pt", weights_only=True), chunked)

    # A training run with the same seed, in a fresh cache, warms up the same encoder on the
    # same examples into a folder of the same name, with the same π.
    train = _load("train")
    run_dir = tmp_path / "run_train"
    other_cache = tmp_path / "other_cache"
    cfg = compose_train(
        [
            *TINY_WARMUP,
            *ONE_STEP_FIT,
            f"paths.output_dir='{run_dir}'",
            f"theta_is.cache_dir={other_cache}",
        ]
    )
    with open_dict(cfg):
        del cfg["hydra"]
    train.train(cfg)
    from_training = torch.load(run_dir / "theta_is" / "probs.pt", weights_only=True)
    assert torch.equal(from_training, chunked)
    assert [p.name for p in other_cache.iterdir()] == [save_dir.name]
    assert not torch.allclose(chunked, torch.full_like(chunked, 1 / chunked.numel()))


def test_warmup_split_over_two_processes_by_the_trainer_config(
    warmup_script, compose_train, tmp_path: Path
) -> None:
    """trainer=ddp_cpu (2 gloo processes, launched by the script itself): the paths are split
    over the processes into one folder whose π equals one process's."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cache = tmp_path / "ddp"
    proc = subprocess.run(
        [sys.executable, "scripts/warmup.py", *TINY_WARMUP, "trainer=ddp_cpu",
         f"theta_is.cache_dir={cache}", f"hydra.run.dir={tmp_path / 'log'}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    log = proc.stdout + proc.stderr
    assert "θ-IS warmup of paths [0, 14) on this rank" in log
    assert "θ-IS warmup of paths [14, 28) on this rank" in log
    assert proc.stdout.count("Train with loss.probs_path=") == 1  # rank 0 prints
    one = warmup_script.warmup(
        compose_train([*TINY_WARMUP, f"theta_is.cache_dir={tmp_path / 'one'}"], "warmup")
    )
    (split,) = cache.iterdir()
    assert split.name == one.name
    assert torch.equal(
        torch.load(split / "probs.pt", weights_only=True),
        torch.load(one / "probs.pt", weights_only=True),
    )


def test_theta_is_seed_shares_one_warmup_over_a_sweep(
    warmup_script, compose_train, tmp_path: Path
) -> None:
    """theta_is.seed=0: the runs of seeds 1 and 2 load the warmup of seed 0, computed once
    (by the first run) into the cache: the π that scripts/warmup.py gives for seed 0."""
    train = _load("train")
    cache = tmp_path / "cache"
    probs = {}
    for seed in (1, 2):
        run_dir = tmp_path / f"run_seed{seed}"
        cfg = compose_train(
            [*TINY_WARMUP, *ONE_STEP_FIT, f"seed={seed}", "theta_is.seed=0",
             f"paths.output_dir='{run_dir}'", f"theta_is.cache_dir={cache}"]
        )  # fmt: skip
        with open_dict(cfg):
            del cfg["hydra"]
        train.train(cfg)
        probs[seed] = torch.load(run_dir / "theta_is" / "probs.pt", weights_only=True)
        (folder,) = cache.iterdir()  # one warmup folder, whichever run made it
        assert (run_dir / "theta_is" / "warmup_dir.txt").read_text().strip() == str(
            folder.resolve()
        )
    assert torch.equal(probs[1], probs[2])
    seed0 = warmup_script.warmup(
        compose_train([*TINY_WARMUP, "seed=0", f"theta_is.cache_dir={cache}"], "warmup")
    )
    assert [p.name for p in cache.iterdir()] == [seed0.name]
    assert torch.equal(torch.load(seed0 / "probs.pt", weights_only=True), probs[1])


@pytest.mark.parametrize(
    "overrides,match",
    [
        (["theta_is.seed=-1"], r"theta_is.seed=-1: must be null or an int >= 0"),
        (["theta_is.seed=0", "trainer=ddp_cpu"], r"theta_is.seed=0 computes the shared warmup"),
    ],
)
def test_theta_is_seed_refused_before_anything_is_written(
    compose_train, tmp_path: Path, overrides: list[str], match: str
) -> None:
    from experiments.config_checks import ConfigValueError

    train = _load("train")
    run_dir = tmp_path / "run"
    cfg = compose_train([*TINY_WARMUP, *overrides, f"paths.output_dir='{run_dir}'"])
    with open_dict(cfg):
        del cfg["hydra"]
    with pytest.raises(ConfigValueError, match=match):
        train.train(cfg)
    assert not run_dir.exists()
