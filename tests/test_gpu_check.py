"""scripts/gpu_check.py's parts that run on a CPU: comparisons, determinism, timing, the
profile counter, the document and the argument errors (tiny sizes, seconds)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from torch import nn

from experiments.benchmarks.device_check import (
    loss_parity,
    profile_steps,
    relative_difference,
    render_determinism,
    time_fn,
)
from experiments.benchmarks.device_report import Figure, Report

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "scripts" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Scaled(nn.Module):
    """``scale * mean((x - y)^2)``; each instance takes the next of ``Scaled.scales``."""

    scales: list[float] = []

    def __init__(self) -> None:
        super().__init__()
        self.scale = Scaled.scales.pop(0)

    def forward(self, x, y, path_idx=None):
        return self.scale * ((x - y) ** 2).mean() * (1 if path_idx is None else path_idx + 1)


def test_relative_difference():
    b = torch.tensor([3.0, 4.0])
    assert relative_difference(b, b) == 0.0
    assert relative_difference(torch.tensor([3.0, 4.5]), b) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="shapes differ"):
        relative_difference(torch.ones(2), torch.ones(3))


def test_loss_parity_reports_the_difference_of_value_and_gradient():
    Scaled.scales = [1.0, 1.001]  # the CPU's, then the "device's"
    x, y = torch.randn(2, 1, 8, dtype=torch.float64), torch.randn(2, 1, 8, dtype=torch.float64)
    rows = loss_parity(Scaled, x, y, "cpu", [0, 3], "scaled")
    assert [r.what for r in rows] == ["scaled path 0", "scaled path 3"]
    for r in rows:  # value and gradient are both scaled by 1.001: a relative difference 1e-3
        assert r.value == pytest.approx(1e-3, rel=1e-9) and r.grad == pytest.approx(1e-3, rel=1e-9)
    Scaled.scales = [1.0, 1.0]
    (same,) = loss_parity(Scaled, x, y, "cpu", None, "same")
    assert (same.what, same.value, same.grad) == ("same", 0.0, 0.0)


def test_render_determinism_tells_repeatable_from_random():
    class Noisy(nn.Module):
        def forward(self, theta, seed):
            return theta[:, :1, None] + torch.rand(theta.shape[0], 1, 16)

    theta = torch.rand(3, 2)
    assert render_determinism(Noisy(), theta, torch.arange(3), "cpu")[0] is False
    same, diff = render_determinism(nn.Identity(), theta, None, "cpu")
    assert same is True and diff == 0.0


def test_time_fn_and_its_errors():
    calls = []
    ms, peak = time_fn(lambda: calls.append(1), "cpu", repeats=3, warmup=2)
    assert len(calls) == 5 and ms >= 0 and peak is None
    with pytest.raises(ValueError, match="repeats"):
        time_fn(lambda: None, "cpu", repeats=0)


def test_profile_steps_counts_host_reads_per_step():
    weight = torch.ones(4, requires_grad=True)

    def step():
        loss = (weight * 2).sum()
        if bool(loss > 0):  # one read of a device value per step
            loss.backward()

    stats = profile_steps(step, "cpu", 3, lambda: [weight])
    assert stats["host_reads_per_step"] == 1.0
    assert stats["kernels_per_step"] >= 2 and stats["busy_fraction"] is None
    with pytest.raises(ValueError, match="n_steps"):
        profile_steps(step, "cpu", 0)


def test_report_names_devices_and_problems(tmp_path):
    report = Report("Title", ["preamble"])
    report.add("timing", Figure("SCRAPL", "1.0 ms", "GPU X", "paper: 89.8 ms"))
    report.add("timing", Figure("a|b", "2", "CPU"))
    report.problem("profile", "RuntimeError: boom")
    text = report.write(tmp_path / "doc" / "r.md").read_text()
    assert "| SCRAPL | 1.0 ms | GPU X | paper: 89.8 ms |" in text
    assert "a\\|b" in text and "**Not complete:** RuntimeError: boom" in text
    assert text.index("## timing") < text.index("## profile")
    with pytest.raises(ValueError, match="Figure.device"):
        Figure("x", "1", "")
    with pytest.raises(TypeError, match="Figure"):
        report.add("timing", ("x", "1", "cpu"))


def test_argument_errors():
    script = _script()
    with pytest.raises(SystemExit):
        script.parse_args(["--sections", "parity,speed"])
    with pytest.raises(ValueError, match="cuda, cuda:N or cpu"):
        script.check_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device here.*--device cpu --size tiny"):
            script.check_device("cuda")
    with pytest.raises(SystemExit):
        script.parse_args(["--device", "cpu", "--budget-s", "0"])


def test_dry_run_writes_the_document_and_reports_skipped_sections(tmp_path):
    out = tmp_path / "gpu.md"
    script = _script()
    script.main(["--device", "cpu", "--size", "tiny", "--sections", "syncs,parity",
                 "--out", str(out)])  # fmt: skip
    text = out.read_text()
    assert "## syncs" in text and "n/a on a CPU" in text  # on a CPU the step only runs
    assert "## parity" in text and "SCRAPL path 0 vs CPU" in text and "pass" in text
    script.main(["--device", "cpu", "--size", "tiny", "--sections", "parity,profile",
                 "--out", str(out), "--budget-s", "1e-9"])  # fmt: skip
    text = out.read_text()
    # The first section runs; the budget is spent before the second.
    assert "## parity" in text and "SCRAPL path 0 vs CPU" in text and "pass" in text
    assert "## profile" in text and "skipped: the time budget" in text
    assert "CPU, " in text  # every figure names its device
