"""Groups by experiment, loss and differing choices; mixed configurations refused."""

from __future__ import annotations

import pytest
from run_fixtures import write_run

from experiments.analysis.chains import chain_runs
from experiments.analysis.errors import MixedConfigError
from experiments.analysis.grouping import OlderRuns, group_runs
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


def test_values_under_the_output_root_are_not_differences(tmp_path) -> None:
    # A run made under another root (paths.out_dir) and moved: its θ-IS cache folder, derived
    # from the root, is bookkeeping; a path outside the root still splits.
    for seed, root in enumerate(["out/a", "out/b"]):
        config = {"paths": {"out_dir": root}, "theta_is": {"cache_dir": f"{root}/theta_is"}}
        write_run(tmp_path, seed=seed, config=config)
    (group,), _ = _groups(tmp_path)
    assert group.seeds == [0, 1]
    elsewhere = {"paths": {"out_dir": "out/c"}, "theta_is": {"cache_dir": "x/theta_is"}}
    write_run(tmp_path, seed=2, config=elsewhere)
    with pytest.raises(MixedConfigError, match="theta_is.cache_dir"):
        _groups(tmp_path)


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


def _older_and_newer(root, pad=None):
    """Seeds 0-1 made before ``module.pad``, ``metrics`` and the ``metrics`` group existed."""
    for seed in (0, 1):
        write_run(root, loss="mss_linear", seed=seed)
        write_run(root, seed=seed)
    newer = {"module": {"pad": pad}, "metrics": {}}
    for loss in ("mss_linear", "scrapl"):
        write_run(root, loss=loss, seed=2, config=newer, choices={"metrics": "none"})


def test_runs_that_predate_new_options_split_without_older_runs(tmp_path) -> None:
    _older_and_newer(tmp_path)
    groups, _ = _groups(tmp_path)  # the new choice splits the groups
    assert [(g.key.label, g.seeds) for g in groups] == [
        ("mss_linear[metrics=?]", [0, 1]),
        ("mss_linear[metrics=none]", [2]),
        ("scrapl[metrics=?]", [0, 1]),
        ("scrapl[metrics=none]", [2]),
    ]
    chains, _, _ = chain_runs(read_runs(tmp_path)[0])
    only_choices = OlderRuns.from_spec({"choices": {"metrics": "none"}})
    with pytest.raises(MixedConfigError, match=r"module.pad: '<missing>' \(2 runs\), None"):
        group_runs(chains, only_choices)  # and the new keys still differ


def test_older_runs_are_read_with_the_given_values(tmp_path) -> None:
    _older_and_newer(tmp_path)
    chains, _, _ = chain_runs(read_runs(tmp_path)[0])
    older = OlderRuns.from_spec({"config": {"module.pad": None, "metrics": {}},
                                 "choices": {"metrics": "none"}})  # fmt: skip
    groups, _ = group_runs(chains, older)
    assert [(g.key.label, g.seeds) for g in groups] == [
        ("mss_linear", [0, 1, 2]),
        ("scrapl", [0, 1, 2]),
    ]


def test_older_runs_do_not_hide_a_real_difference(tmp_path) -> None:
    _older_and_newer(tmp_path, pad=2048)  # the new runs do use the new option
    chains, _, _ = chain_runs(read_runs(tmp_path)[0])
    older = OlderRuns.from_spec({"config": {"module.pad": None, "metrics": {}},
                                 "choices": {"metrics": "none"}})  # fmt: skip
    with pytest.raises(MixedConfigError, match="module.pad: None \\(2 runs\\), 2048 \\(1 runs\\)"):
        group_runs(chains, older)


@pytest.mark.parametrize(
    "spec, match",
    [
        ([1], "older_runs must be a mapping"),
        ({"configs": {}}, "older_runs must be a mapping with the keys"),
        ({"config": [1]}, "older_runs.config must map"),
        ({"choices": {"metrics": 1}}, "older_runs.choices must map"),
    ],
)
def test_older_runs_spec_errors(spec, match) -> None:
    with pytest.raises(ValueError, match=match):
        OlderRuns.from_spec(spec)


def test_runs_written_through_another_folder_are_one_group(tmp_path, monkeypatch) -> None:
    # Runs of one sweep launched from two checkouts whose out/ is one folder (a link): the
    # configs name the run folders by different absolute paths, read here relatively.
    real = tmp_path / "a"
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "out").symlink_to(real / "out", target_is_directory=True)
    for seed, checkout in ((0, "a"), (1, "b"), (2, "a")):
        name = f"2026-01-01_00-00-0{seed}_seed{seed}"
        run = f"{tmp_path}/{checkout}/out/granular/scrapl/{name}"
        config = {"paths": {"output_dir": run}, "callbacks": {"ckpt": f"{run}/ckpt"}}
        write_run(real / "out", seed=seed, name=name, config=config)
    monkeypatch.chdir(real)
    chains, _, _ = chain_runs(read_runs("out")[0])
    (group,), _ = group_runs(chains)
    assert group.seeds == [0, 1, 2]
