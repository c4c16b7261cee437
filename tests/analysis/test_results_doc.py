"""The results document: numbers from fabricated run folders, prose from the spec."""

from __future__ import annotations

import json
import math
import shutil

import pytest
from run_fixtures import write_run

from experiments.analysis.results_doc import build_document


def _runs(root) -> None:
    # scrapl: test θ L1 100, 101, 102 (run_fixtures: 100 + seed), wall 60, 120, 180 s.
    for seed in (0, 1, 2):
        run = write_run(root / "runs", loss="scrapl", seed=seed)
        (run / "summary.json").write_text(json.dumps({"wall_time_s": 60.0 * (seed + 1)}))
    for seed, value in zip((0, 1, 2), (300.0, 330.0, 290.0), strict=True):
        write_run(root / "runs", loss="mss_linear", seed=seed,
                  test={"test/theta_l1": value, "test/theta_l1_density": 400.0,
                        "test/theta_l1_slope": 200.0})  # fmt: skip
    broken = root / "runs" / "granular" / "jtfs" / "broken"
    broken.mkdir(parents=True)
    (broken / "metrics.csv").write_text("epoch,step\n")  # a run that crashed at once


SPEC = {
    "title": "CPU results",
    "intro": "Measured on a laptop.",
    "sections": [
        {
            "title": "Granular, quick",
            "runs": "runs",
            "experiment": "granular",
            "text": "Three seeds.",
            "commands": "python scripts/train.py -m seed=0,1,2",
            "metrics": ["test/theta_l1", "test/theta_l1_slope"],
            "pairs": ["mss_linear:scrapl"],
        },
        {"title": "Chirplet", "runs": "runs", "experiment": "chirplet", "metrics": []},
    ],
}


def test_document_numbers_come_from_the_runs(tmp_path) -> None:
    _runs(tmp_path)
    text = build_document(SPEC, tmp_path)
    lines = text.splitlines()
    assert lines[0] == "# CPU results" and "Measured on a laptop." in text
    assert "```bash\npython scripts/train.py -m seed=0,1,2\n```" in text
    # Rows ordered by mean test θ L1: scrapl (101) before mss_linear (306.7).
    scrapl = next(line for line in lines if line.startswith("| scrapl |"))
    mss = next(line for line in lines if line.startswith("| mss_linear |"))
    assert lines.index(scrapl) < lines.index(mss)
    ci = 1.96 * math.sqrt(2 / 3) / math.sqrt(3)  # std(ddof=0) of 100, 101, 102
    assert f"| 101.00 ± {ci:.2f} |" in scrapl and "100.0 / 101.0 / 102.0" in scrapl
    assert scrapl.endswith("| 2.0 |")  # mean wall time (60 + 120 + 180) / 3 s, in minutes
    assert mss.endswith("| – |") and "300.0 / 330.0 / 290.0" in mss
    # The paired comparison of the two losses over the same seeds.
    diffs = [100 - 300, 101 - 330, 102 - 290]
    assert f"| scrapl − mss_linear | 3 | {sum(diffs) / 3:.0f}" in text
    assert "| paired |" in text
    # Skipped folders are listed; a section without runs says so.
    assert "granular/jtfs/broken" in text and "no config.yaml" in text
    chirplet = text.split("## Chirplet")[1]
    assert "No complete run of `chirplet` under `runs` yet." in chirplet
    assert "broken" not in chirplet  # a granular folder, listed under granular only


@pytest.mark.parametrize(
    "spec, match",
    [
        ({}, "list of 'sections'"),
        ({"sections": [1]}, "sections\\[0\\] must be a mapping"),
        ({"sections": [{"title": "t", "runs": "r", "experiment": "e"}]}, "needs 'metrics'"),
    ],
)
def test_bad_specs(tmp_path, spec, match) -> None:
    with pytest.raises(ValueError, match=match):
        build_document(spec, tmp_path)


def test_older_runs_are_read_with_the_spec_values_and_said_so(tmp_path) -> None:
    for seed in (0, 1):
        write_run(tmp_path / "runs", seed=seed)
    write_run(tmp_path / "runs", seed=2, config={"module": {"pad": None}},
              choices={"metrics": "none"})  # fmt: skip
    section = {"title": "G", "runs": "runs", "experiment": "granular",
               "metrics": ["test/theta_l1"]}  # fmt: skip
    split = build_document({"sections": [section]}, tmp_path)
    assert "| scrapl[metrics=?] | 0, 1 |" in split and "| scrapl[metrics=none] | 2 |" in split
    section["older_runs"] = {"config": {"module.pad": None}, "choices": {"metrics": "none"}}
    text = build_document({"sections": [section]}, tmp_path)
    assert "| scrapl | 0, 1, 2 |" in text
    assert "read with their present defaults: `module.pad` = `None`, `metrics=none`" in text


def test_older_runs_from_a_file_beside_the_runs(tmp_path) -> None:
    for seed in (0, 1):
        write_run(tmp_path / "runs", seed=seed)
    write_run(tmp_path / "runs", seed=2, choices={"metrics": "none"})
    (tmp_path / "older.yaml").write_text("choices: {metrics: none}\n")
    section = {"title": "G", "runs": "runs", "experiment": "granular",
               "metrics": ["test/theta_l1"], "older_runs": "older.yaml"}  # fmt: skip
    assert "| scrapl | 0, 1, 2 |" in build_document({"sections": [section]}, tmp_path)
    section["older_runs"] = "missing.yaml"
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        build_document({"sections": [section]}, tmp_path)


def test_only_rebuilds_the_named_sections_and_keeps_the_others_verbatim(tmp_path) -> None:
    _runs(tmp_path)
    before = build_document(SPEC, tmp_path)
    # The runs behind the first section are gone; a chirplet run has appeared.
    shutil.rmtree(tmp_path / "runs")
    write_run(tmp_path / "runs", experiment="chirplet", loss="scrapl", seed=0)
    after = build_document(SPEC, tmp_path, only=["Chirp"], existing=before)
    granular = before.split("## Chirplet")[0]
    assert after.startswith(granular)  # header and first section unchanged, byte for byte
    assert "| scrapl | 0 |" in after.split("## Chirplet")[1]
    # Rebuilding every section from the runs would lose the first one's table.
    assert "No complete run of `granular`" in build_document(SPEC, tmp_path)
    # Nothing to rebuild: the same document.
    assert build_document(SPEC, tmp_path, only=["Chirp"], existing=after) == after


@pytest.mark.parametrize(
    "only, existing, match",
    [
        (["l"], "", "must name exactly one section"),  # both titles contain an "l"
        (["Quick"], "", "matches 0"),
        (["Chirplet"], "# CPU results\n", "'Granular, quick' is not in the existing document"),
    ],
)
def test_only_errors(tmp_path, only, existing, match) -> None:
    with pytest.raises(ValueError, match=match):
        build_document(SPEC, tmp_path, only=only, existing=existing)


def test_per_seed_column_of_another_metric(tmp_path) -> None:
    # run_fixtures' validation curve 300, 200, 120, 90 ends at its best: gap 0 % per seed.
    _runs(tmp_path)
    section = {**SPEC["sections"][0], "metrics": ["val_best"], "per_seed": "val_end_gap_pct"}
    text = build_document({"title": "t", "sections": [section]}, tmp_path)
    assert "| last − best val, % of best per seed |" in text
    (row,) = [line for line in text.splitlines() if line.startswith("| scrapl |")]
    assert "| 90 ± 0 | 0.0 / 0.0 / 0.0 |" in row  # format_value: 3 digits, ± 0
