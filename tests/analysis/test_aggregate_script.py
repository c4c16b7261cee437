"""scripts/aggregate.py on fabricated run folders: values, CIs and p-values by hand/scipy."""

from __future__ import annotations

import csv
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from run_fixtures import write_run
from scipy import stats

ROOT = Path(__file__).resolve().parents[2]

SCRAPL = {0: 60.0, 1: 70.0, 2: 65.0, 3: 75.0}
MSS = {0: 300.0, 1: 280.0, 2: 310.0, 3: 290.0}
PLOSS = {10: 20.0, 11: 22.0, 12: 19.0}


@pytest.fixture(scope="module")
def aggregate():
    spec = importlib.util.spec_from_file_location("aggregate", ROOT / "scripts" / "aggregate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def _test_metrics(theta: float) -> dict[str, float]:
    return {"test/theta_l1": theta, "test/theta_l1_density": theta / 2, "test/loss": 1.0}


@pytest.fixture
def runs(tmp_path) -> Path:
    root = tmp_path / "out"
    for seed, theta in SCRAPL.items():
        # seeds 0 and 1 converge (at 4 and 6 steps), 2 and 3 never do
        val = [300.0, 150.0, 90.0, 80.0] if seed == 0 else [300.0, 150.0, 120.0, 95.0]
        if seed >= 2:
            val = [300.0, 250.0, 200.0, 150.0]
        write_run(root, loss="scrapl", seed=seed, val=val, test=_test_metrics(theta))
    for seed, theta in MSS.items():
        write_run(root, loss="mss_linear", seed=seed, val=[300.0, 310.0, 290.0, 300.0],
                  test=_test_metrics(theta))  # fmt: skip
    for seed, theta in PLOSS.items():
        write_run(root, loss="ploss", seed=seed, test=_test_metrics(theta))
    broken = write_run(root, loss="ploss", seed=13, name="crashed_seed13")
    (broken / "metrics.csv").write_text("epoch,step,train/loss\n0,0,1.0\n")
    return root


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_summary_and_comparisons(aggregate, runs, tmp_path) -> None:
    out = tmp_path / "tables"
    pairs = ["scrapl:mss_linear", "ploss:scrapl"]
    assert aggregate([str(runs), "--pairs", *pairs, "--out", str(out)]) == 0
    summary = {(r["loss"], r["metric"]): r for r in _read(out / "summary.csv")}
    assert list(_read(out / "summary.csv")[0]) == [
        "experiment", "loss", "metric", "n", "mean", "ci95", "n_runs", "variant",
    ]  # fmt: skip
    for loss, values in (("scrapl", SCRAPL), ("mss_linear", MSS), ("ploss", PLOSS)):
        row = summary[(loss, "test/theta_l1")]
        v = np.array(list(values.values()))
        assert int(row["n"]) == len(v) == int(row["n_runs"])
        assert float(row["mean"]) == pytest.approx(v.mean(), rel=1e-12)
        assert float(row["ci95"]) == pytest.approx(1.96 * v.std() / math.sqrt(len(v)), rel=1e-12)
        half = summary[(loss, "test/theta_l1_density")]
        assert float(half["mean"]) == pytest.approx(v.mean() / 2, rel=1e-12)

    # Convergence: 2 of 4 SCRAPL runs, at 4 and 6 steps; no MSS run (n = 0, still a row).
    conv = summary[("scrapl", "convergence_step")]
    assert (int(conv["n"]), int(conv["n_runs"]), float(conv["mean"])) == (2, 4, 5.0)
    assert summary[("mss_linear", "convergence_step")]["n"] == "0"
    # Total variation of seed 0's curve 300, 150, 90, 80: (150 + 60 + 10) / 4.
    tv = [220 / 4, (150 + 30 + 25) / 4, 150 / 4, 150 / 4]
    assert float(summary[("scrapl", "val_total_variation")]["mean"]) == pytest.approx(np.mean(tv))

    comparisons = {(r["a"], r["b"], r["metric"]): r for r in _read(out / "comparisons.csv")}
    paired = comparisons[("scrapl", "mss_linear", "test/theta_l1")]
    a, b = [SCRAPL[s] for s in range(4)], [MSS[s] for s in range(4)]
    assert paired["test"] == "paired" and paired["n"] == "4"
    assert float(paired["mean_diff"]) == pytest.approx(np.mean(b) - np.mean(a))
    assert float(paired["p_value"]) == pytest.approx(stats.ttest_rel(b, a).pvalue, rel=1e-12)
    d = np.subtract(b, a)
    half = stats.t.ppf(0.975, 3) * d.std(ddof=1) / 2
    assert float(paired["ci95"]) == pytest.approx(half, rel=1e-12)
    welch = comparisons[("ploss", "scrapl", "test/theta_l1")]
    assert welch["test"] == "welch" and (welch["n_a"], welch["n_b"]) == ("3", "4")
    ref = stats.ttest_ind(list(SCRAPL.values()), list(PLOSS.values()), equal_var=False)
    assert float(welch["p_value"]) == pytest.approx(ref.pvalue, rel=1e-12)

    report = (out / "report.txt").read_text()
    assert "crashed_seed13: partial: " in report
    assert "granular/scrapl: 2 of 4 runs never reached val θ L1 <= 100 ‰ (seeds 2, 3)" in report
    assert "granular/mss_linear: 4 of 4 runs never reached" in report
    md = (out / "summary.md").read_text()
    assert "| scrapl | 4 | 67.5 ± 5.5 |" in md  # 1.96 * std([60, 70, 65, 75]) / 2 = 5.48
    assert "(n=2)" in md
    tex = (out / "summary.tex").read_text()
    assert "\\begin{tabular}" in tex and "$67.5 \\pm 5.5$" in tex
    assert "paired" in (out / "comparisons.md").read_text()


def test_a_pair_is_compared_once_in_the_direction_asked_and_never_on_loss_values(
    aggregate, runs
) -> None:
    assert aggregate([str(runs), "--baseline", "scrapl", "--pairs", "mss_linear:scrapl"]) == 0
    rows = _read(runs / "comparisons.csv")
    pairs = [(r["a"], r["b"], r["metric"]) for r in rows]
    assert len(pairs) == len(set(pairs))
    assert {(a, b) for a, b, _ in pairs} == {("mss_linear", "scrapl"), ("scrapl", "ploss")}
    assert not [m for _, _, m in pairs if m.endswith("/loss")]
    theta = next(r for r in rows if (r["a"], r["b"], r["metric"]) ==
                 ("mss_linear", "scrapl", "test/theta_l1"))  # fmt: skip
    assert float(theta["mean_diff"]) == pytest.approx(np.mean(list(SCRAPL.values()))
                                                      - np.mean(list(MSS.values())))  # fmt: skip
    summary = {(r["loss"], r["metric"]) for r in _read(runs / "summary.csv")}
    assert ("scrapl", "test/loss") in summary  # in the summary, with its own column
    assert "test/loss is each run's own loss function" in (runs / "report.txt").read_text()


def test_baseline_compares_every_loss(aggregate, runs) -> None:
    assert aggregate([str(runs), "--baseline", "ploss"]) == 0
    pairs = {(r["a"], r["b"]) for r in _read(runs / "comparisons.csv")}
    assert pairs == {("ploss", "mss_linear"), ("ploss", "scrapl")}


def test_errors(aggregate, runs, tmp_path, capsys) -> None:
    assert aggregate([str(runs), "--pairs", "scrapl:jtfs"]) == 2
    assert "loss 'jtfs' (--pairs/--baseline) is not among the runs" in capsys.readouterr().err
    assert aggregate([str(runs), "--pairs", "scrapl"]) == 2
    assert "--pairs entries must be LOSS_A:LOSS_B, got 'scrapl'" in capsys.readouterr().err
    write_run(runs, loss="scrapl", seed=7, config={"lr": 0.5})
    assert aggregate([str(runs)]) == 2
    err = capsys.readouterr().err
    assert (
        "granular/scrapl: the runs differ in" in err and "lr: 0.001 (4 runs), 0.5 (1 runs)" in err
    )
    assert aggregate([str(tmp_path / "nowhere")]) == 2
    assert "RUNS_DIR must be a folder" in capsys.readouterr().err


def test_older_runs_file_joins_runs_made_before_an_option(aggregate, tmp_path, capsys) -> None:
    root = tmp_path / "out"
    for seed in (0, 1):
        write_run(root, seed=seed, test=_test_metrics(60.0 + seed))
    write_run(root, seed=2, test=_test_metrics(62.0), config={"module": {"pad": None}},
              choices={"metrics": "none"})  # fmt: skip
    assert aggregate([str(root), "--out", str(tmp_path / "split")]) == 0
    assert "scrapl[metrics=none]: 1 runs" in capsys.readouterr().out
    older = tmp_path / "older.yaml"
    older.write_text("config: {module.pad: null}\nchoices: {metrics: none}\n")
    assert aggregate([str(root), "--older-runs", str(older), "--out", str(tmp_path / "t")]) == 0
    assert "granular / scrapl: 3 runs (seeds 0, 1, 2)" in capsys.readouterr().out
    older.write_text("config: [1]\n")
    assert aggregate([str(root), "--older-runs", str(older)]) == 2
    assert "older_runs.config must map dotted keys" in capsys.readouterr().err
    assert aggregate([str(root), "--older-runs", str(tmp_path / "none.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
