"""Figures from fabricated run folders: every kind drawn, byte-identical when redrawn."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from run_fixtures import write_run

from experiments.analysis.collect import collect
from experiments.analysis.curve_bands import curve_band
from experiments.analysis.figure_files import save_deterministic
from experiments.analysis.figure_set import draw_all
from experiments.analysis.figures_paths import path_coordinates

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[2]
TINY_JTFS = {"jtfs": {"J": 6, "Q1": 2, "Q2": 1, "J_fr": 2, "Q_fr": 1, "T": None, "F": None},
             "synth": {"sr": 8192, "n_samples": 8192}}  # fmt: skip


def _runs(root: Path) -> Path:
    for seed in (0, 1):
        run = write_run(root, loss="scrapl", seed=seed, val=[300.0, 200.0 + seed, 150.0],
                        step_time=0.2 + 0.01 * seed, warmup_time=3.0 + seed,
                        config=TINY_JTFS)  # fmt: skip
        if seed == 0:
            (run / "plots").mkdir()
            with open(run / "plots" / "path_counts.csv", "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["path_idx", "prob", "count"])
                w.writerows((p, repr((p + 1) / 406), 1) for p in range(28))  # sums to 1
        write_run(root, loss="ploss", seed=seed, val=[300.0, 100.0, 50.0], step_time=0.1,
                  warmup_time=0.5, config=TINY_JTFS)  # fmt: skip
        for data in ("micro", "meso"):
            write_run(root, experiment="drums", loss="mss_linear", seed=seed, name=f"{data}{seed}",
                      choices={"data": data}, config={"data": {"kind": data}})  # fmt: skip
    return root


def test_every_figure_and_byte_identical(tmp_path) -> None:
    runs = _runs(tmp_path / "out")
    collection = collect(runs)
    first = draw_all(collection, tmp_path / "a")
    names = sorted(p.name for p in first)
    stems = sorted({n.rsplit(".", 1)[0] for n in names})
    assert stems == [
        "drums_bars_test_theta_l1_by_data",
        "drums_data_meso_val_curves_steps",
        "drums_data_micro_val_curves_steps",
        "granular_error_vs_cost",
        "granular_paths_scrapl",
        "granular_val_curves_steps",
        "granular_val_curves_time",
    ]
    assert len(names) == 2 * len(stems)  # png and svg
    again = draw_all(collect(runs), tmp_path / "b")
    for a, b in zip(first, again, strict=True):
        assert a.name == b.name and a.read_bytes() == b.read_bytes(), a.name
    assert first[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = next(p for p in first if p.suffix == ".svg").read_text()
    assert svg.startswith("<?xml") and "<dc:date>" not in svg


def test_curve_band_values(tmp_path) -> None:
    runs = _runs(tmp_path / "out")
    groups = {g.key.label: g for g in collect(runs).groups if g.key.experiment == "granular"}
    band = curve_band(groups["scrapl"], x="step")
    assert band.x.tolist() == [0, 2, 4] and band.n.tolist() == [2, 2, 2]
    assert band.mean.tolist() == [300.0, 200.5, 150.0]
    assert band.ci95[1] == pytest.approx(1.96 * 0.5 / np.sqrt(2))
    timed = curve_band(groups["scrapl"], x="time")
    # 2 steps per epoch at 0.2 s and 0.21 s: mean seconds spent 0, 0.41, 0.82
    assert timed.x == pytest.approx([0.0, 0.41, 0.82])
    # With the seconds before the first step (θ-IS warmup 3 s and 4 s): shifted by 3.5 s.
    cost = curve_band(groups["scrapl"], x="cost")
    assert cost.x == pytest.approx([3.5, 3.91, 4.32])
    with pytest.raises(ValueError, match="x must be one of"):
        curve_band(groups["scrapl"], x="epoch")


def test_path_coordinates_of_the_paper_config() -> None:
    cfg = {"jtfs": {"J": 12, "Q1": 8, "Q2": 2, "J_fr": 3, "Q_fr": 2, "T": 4096, "F": 8},
           "synth": {"sr": 8192, "n_samples": 32768}}  # fmt: skip
    rate, scale = path_coordinates(cfg)
    assert rate.size == 315 and np.unique(rate).size == 21 and np.unique(scale).size == 15
    assert (np.diff(rate[::15]) < 0).all()  # ψ2 ranked from the highest frequency
    assert scale[0] == 0.0 and (scale[1:8] > 0).all() and (scale[8:15] < 0).all()


def test_save_deterministic_rejects_bad_formats(tmp_path) -> None:
    from matplotlib.figure import Figure

    with pytest.raises(ValueError, match="formats must be a non-empty subset"):
        save_deterministic(Figure(), tmp_path / "x", ("pdf",))
    with pytest.raises(TypeError, match="fig must be a matplotlib.figure.Figure"):
        save_deterministic(None, tmp_path / "x")


def test_plot_script(tmp_path, capsys) -> None:
    spec = importlib.util.spec_from_file_location("plot", ROOT / "scripts" / "plot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    runs = _runs(tmp_path / "out")
    assert module.main([str(runs), "--formats", "png"]) == 0
    files = sorted(p.name for p in (runs / "figures").iterdir())
    assert "granular_val_curves_steps.png" in files and not any(f.endswith(".svg") for f in files)
    out = capsys.readouterr().out
    assert "wrote 7 files" in out and "note: the reference" not in out
    assert module.main([str(runs), "--formats", "png", "--reference", "jtfs"]) == 0
    assert "note: the reference loss 'jtfs' is not among the runs" in capsys.readouterr().out


def test_cost_includes_the_warmup_and_says_a_missing_reference(tmp_path) -> None:
    from experiments.analysis.figures_cost import cost_axis
    from experiments.analysis.summary import summarise

    runs = _runs(tmp_path / "out")
    rows, _ = summarise([g for g in collect(runs).groups if g.key.experiment == "granular"])
    by = {(r.loss, r.metric): r.mean for r in rows}
    # scrapl: 4 steps of 0.2 / 0.21 s plus 3 / 4 s of warmup; ploss: 4 x 0.1 s + 0.5 s.
    assert by[("scrapl", "cost_s")] == pytest.approx((0.8 + 3.0 + 0.84 + 4.0) / 2)
    assert by[("scrapl", "train_time_s")] == pytest.approx((0.8 + 0.84) / 2)
    assert by[("ploss", "cost_s")] == pytest.approx(0.9)
    axis = cost_axis(rows, "ploss")
    assert axis.metric == "cost_s" and axis.reference == "ploss" and axis.note == ""
    assert "θ-IS warmup" in axis.label
    missing = cost_axis(rows, "jtfs")
    assert missing.reference is None
    assert missing.note == "reference 'jtfs' not among these runs: absolute values"
    old = [r for r in rows if r.metric not in ("cost_s", "warmup_s", "train_time_s")]
    assert cost_axis(old, "ploss").metric == "step_time_s"
    assert "θ-IS warmup not recorded" in cost_axis(old, "ploss").label
