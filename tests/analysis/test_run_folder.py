"""Finding and reading run folders; every unusable folder is reported with its reason."""

from __future__ import annotations

import yaml
from run_fixtures import write_run

from experiments.analysis.run_folder import find_run_folders, read_runs


def test_reads_identity_from_hydra_choices(tmp_path) -> None:
    run = write_run(tmp_path, "chirplet_am_lo_fm_lo", "scrapl_p_adam", seed=3,
                    config={"experiment_name": "chirplet"})  # fmt: skip
    (runs, skipped) = read_runs(tmp_path)
    assert skipped == [] and len(runs) == 1
    r = runs[0]
    assert (r.path, r.experiment, r.loss, r.seed) == (
        run,
        "chirplet_am_lo_fm_lo",
        "scrapl_p_adam",
        3,
    )
    assert r.choices["preset"] == "tiny"


def test_identity_without_hydra_folder(tmp_path) -> None:
    write_run(tmp_path, "granular", "mss_linear", seed=1, hydra=False)
    (r,), _ = read_runs(tmp_path)
    assert (r.experiment, r.loss, r.choices) == ("granular", "mss_linear", {})


def test_malformed_folders_are_listed(tmp_path) -> None:
    good = write_run(tmp_path, seed=0)
    no_metrics = write_run(tmp_path, seed=1)
    (no_metrics / "metrics.csv").unlink()
    bad_yaml = write_run(tmp_path, seed=2)
    (bad_yaml / "config.yaml").write_text("seed: [1,\n")
    bad_seed = write_run(tmp_path, seed=3)
    cfg = yaml.safe_load((bad_seed / "config.yaml").read_text())
    (bad_seed / "config.yaml").write_text(yaml.safe_dump({**cfg, "seed": "three"}))
    no_config = tmp_path / "granular" / "scrapl" / "crashed"
    no_config.mkdir()
    (no_config / "metrics.csv").write_text("epoch,step\n")
    cut = write_run(tmp_path, seed=4)
    with open(cut / "metrics.csv", "a") as f:
        f.write("3,7,1.0\n")
    bad_eval = write_run(tmp_path, seed=5)
    (bad_eval / "evaluations" / "x").mkdir(parents=True)
    (bad_eval / "evaluations" / "x" / "metrics.csv").write_text("")

    runs, skipped = read_runs(tmp_path)
    assert [r.path for r in runs] == [good]
    reasons = {s.path: s.reason for s in skipped}
    assert reasons[no_metrics].startswith("no metrics.csv")
    assert reasons[bad_yaml].startswith("config.yaml cannot be read")
    assert reasons[bad_seed] == "config.yaml: seed must be an int, got 'three'"
    assert reasons[no_config].startswith("no config.yaml")
    assert "cells, the header" in reasons[cut]
    assert reasons[bad_eval] == "evaluations/x/metrics.csv: metrics.csv is empty"
    assert len(skipped) == 6


def test_nothing_below_a_run_is_a_run(tmp_path) -> None:
    run = write_run(tmp_path)
    (run / "evaluations" / "e1").mkdir(parents=True)
    (run / "evaluations" / "e1" / "metrics.csv").write_text("epoch,step,test/x\n0,0,1.0\n")
    (run / "theta_is").mkdir()
    (tmp_path / "warmup" / "logs" / ".hydra").mkdir(parents=True)
    (tmp_path / "warmup" / "logs" / ".hydra" / "config.yaml").write_text("a: 1\n")
    assert find_run_folders(tmp_path) == [run]
    (r,), _ = read_runs(tmp_path)
    assert len(r.evaluations) == 1
