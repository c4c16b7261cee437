"""Groups by experiment, loss and differing choices; mixed configurations refused."""

from __future__ import annotations

import pytest
from run_fixtures import write_run

from experiments.analysis.chains import chain_runs
from experiments.analysis.errors import MixedConfigError
from experiments.analysis.grouping import group_runs
from experiments.analysis.run_folder import read_runs


def _groups(root):
    chains, _, _ = chain_runs(read_runs(root)[0])
    return group_runs(chains)


def test_seed_and_folder_values_are_not_differences(tmp_path) -> None:
    for seed in range(3):  # data.shuffle_seed, loss.seed, paths and dirpaths differ
        bookkeeping = {"logger": {"csv": {"version": f"v{seed}"}}}
        bookkeeping["trainer"] = {"enable_progress_bar": seed > 0}
        write_run(tmp_path, seed=seed, config=bookkeeping)
    (group,), skipped = _groups(tmp_path)
    assert skipped == [] and group.seeds == [0, 1, 2]
    assert (group.key.experiment, group.key.label) == ("granular", "scrapl")


def test_mixed_configs_are_refused_naming_the_keys(tmp_path) -> None:
    write_run(tmp_path, seed=0)
    write_run(tmp_path, seed=1, config={"lr": 1e-4})
    write_run(tmp_path, seed=2, config={"lr": 1e-4, "data": {"batch_size": 8}})
    with pytest.raises(MixedConfigError) as err:
        _groups(tmp_path)
    text = str(err.value)
    assert "granular/scrapl: the runs differ in" in text
    assert "lr: 0.0001 (2 runs), 0.001 (1 runs)" in text
    assert "data.batch_size: 4 (2 runs), 8 (1 runs)" in text
    assert "seed" not in text.split("differ in")[1]


def test_choices_that_differ_split_every_loss_of_the_experiment(tmp_path) -> None:
    for seed in (0, 1):
        write_run(tmp_path, loss="scrapl", seed=seed, name=f"a_seed{seed}",
                  choices={"preset": "tiny"})  # fmt: skip
        write_run(tmp_path, loss="scrapl", seed=seed, name=f"b_seed{seed}",
                  choices={"preset": "quick"}, config={"lr": 2e-4})  # fmt: skip
        write_run(tmp_path, loss="mss_linear", seed=seed, choices={"preset": "quick"})
    write_run(tmp_path, experiment="chirplet", loss="scrapl", seed=0)
    groups, _ = _groups(tmp_path)
    labels = [(g.key.experiment, g.key.label, g.seeds) for g in groups]
    assert labels == [
        ("chirplet", "scrapl", [0]),
        ("granular", "mss_linear[preset=quick]", [0, 1]),
        ("granular", "scrapl[preset=quick]", [0, 1]),
        ("granular", "scrapl[preset=tiny]", [0, 1]),
    ]


def test_duplicate_seed_keeps_the_later_run(tmp_path) -> None:
    old = write_run(tmp_path, seed=4, name="2026-01-01_00-00-00_seed4")
    new = write_run(tmp_path, seed=4, name="2026-01-05_00-00-00_seed4")
    (group,), skipped = _groups(tmp_path)
    assert [c.last.path for c in group.chains] == [new]
    assert [s.path for s in skipped] == [old] and "seed 4 again" in skipped[0].reason
