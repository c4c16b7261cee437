"""Check a GPU machine in one command; writes docs/results/benchmark_gpu.md.

    python scripts/gpu_check.py                          # one CUDA GPU, paper sizes, < 8 min
    python scripts/gpu_check.py --device cpu --size tiny --out out/gpu_check_dry.md  # dry run

Sections (``--sections``, comma-separated; all by default), each figure with its device:

* ``parity``: SCRAPL (first, middle, last path) and the full JTFS on the CPU and the device
  at the configuration of ``--size``: relative differences of the loss and its gradient.
* ``syncs``: SCRAPL steps (forward, backward, P-Adam/P-SAGA on an attached weight) under
  ``torch.cuda.set_sync_debug_mode("error")``: no host-device synchronisation allowed.
* ``determinism``: each synth rendered twice on the device (bit-identical?) and against the
  CPU; the θ-IS warmup folder of the same run on the CPU and on the device (same key?) and
  the warmup's determinism check on the device.
* ``timing``: SCRAPL forward + backward per path (batch 4: every path once, then the worst
  path at batch 4 and 32), the full JTFS (batch 4), the P-Adam/P-SAGA state with every path
  visited; median times and peak memory beside the paper's Table 5.
* ``lightning``: scripts/train.py end to end at ``preset=tiny``: ``trainer=gpu``, resumed on
  ``cpu`` and on ``gpu``, ``bf16-mixed``, ``trainer=ddp trainer.devices=1``.
* ``profile``: 10 training steps of ``experiment=granular loss=scrapl``: device kernels per
  step, device busy fraction, host reads per step.

A section that fails or runs out of ``--budget-s`` is reported as such; no figure is
invented. The sections live in experiments/benchmarks/device_sections.py, the measurements
in device_check.py, the document in device_report.py.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from experiments.benchmarks.device_plan import SECTIONS, SIZES

if TYPE_CHECKING:
    import torch

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu (dry run)")
    ap.add_argument("--size", choices=sorted(SIZES), default="paper")
    ap.add_argument("--sections", default=",".join(SECTIONS), help=",".join(SECTIONS))
    ap.add_argument("--out", default=str(ROOT / "docs" / "results" / "benchmark_gpu.md"))
    ap.add_argument("--budget-s", type=float, default=450.0, help="no new section after it")
    args = ap.parse_args(argv)
    sections = [s for s in args.sections.split(",") if s]
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown or not sections:
        ap.error(f"--sections: unknown {unknown}; accepted: {', '.join(SECTIONS)}")
    args.sections = sections
    args.device = check_device(args.device)
    if args.budget_s <= 0:
        ap.error(f"--budget-s must be > 0, got {args.budget_s}")
    return args


def check_device(device: str) -> torch.device:
    """The device, refused with a message when it is not usable here."""
    import torch

    try:
        dev = torch.device(device)
    except RuntimeError as e:
        raise ValueError(f"--device must be cuda, cuda:N or cpu, got {device!r} ({e})") from None
    if dev.type not in ("cuda", "cpu"):
        raise ValueError(f"--device must be cuda, cuda:N or cpu, got {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"--device {device}: no CUDA device here (torch {torch.__version__}); for a dry "
            "run of the script use --device cpu --size tiny"
        )
    return dev


def build(overrides: list[str]) -> tuple:
    """``(cfg, datamodule, module)`` of configs/train.yaml, seeded as scripts/train.py."""
    import lightning.pytorch as pl
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.utils import instantiate

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose("train", overrides=[*overrides, "logger=none", "paths.output_dir=/tmp"])
    pl.seed_everything(cfg.seed)
    return cfg, instantiate(cfg.data), instantiate(cfg.module)


def main(argv: list[str] | None = None) -> Path:
    try:
        args = parse_args(argv)
    except ValueError as e:
        raise SystemExit(f"gpu_check.py: {e}") from None
    # Imported after the arguments: --help answers without torch.
    from experiments.benchmarks.device_sections import DeviceCheck

    check = DeviceCheck(args, build, ROOT, sys.argv[1:] if argv is None else argv)
    start = time.perf_counter()
    for i, section in enumerate(args.sections):
        if i > 0 and time.perf_counter() - start > args.budget_s:
            check.report.problem(
                section, f"skipped: the time budget of {args.budget_s:g} s was spent"
            )
            continue
        t0 = time.perf_counter()
        try:
            getattr(check, section)()
        except Exception as e:  # reported in the document, never hidden
            traceback.print_exc()
            check.report.problem(section, f"{type(e).__name__}: {e}")
        print(f"{section}: {time.perf_counter() - t0:.0f} s", flush=True)
    path = check.report.write(args.out)
    print(f"Wrote {path}")
    return path


if __name__ == "__main__":
    main()
