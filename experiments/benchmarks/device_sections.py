"""The sections of ``scripts/gpu_check.py`` (see its docstring): each measures on the
device and adds figures, named with their device, to a :class:`~experiments.benchmarks.
device_report.Report`. Configs are built by the caller's ``build(overrides) -> (cfg,
datamodule, module)`` (the script composes them with Hydra); ``root`` is the repository
(scripts/train.py runs the Lightning section)."""

from __future__ import annotations

import argparse
import datetime
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from experiments.benchmarks.device_check import (
    device_name,
    loss_parity,
    profile_steps,
    render_determinism,
    time_fn,
)
from experiments.benchmarks.device_plan import PAPER, SECTIONS, SIZES
from experiments.benchmarks.device_report import Figure, Report
from experiments.data.split_datamodule import HOST_KEYS
from experiments.theta_is import prepare_warmup
from scrapl import JTFSLoss, SCRAPLLoss

__all__ = ["PAPER", "SECTIONS", "SIZES", "DeviceCheck"]

# Float32 kernels of CPU and GPU sum in different orders: ~1e-7 per operation, grown by
# the depth of the transform; the bounds of tests/test_gpu.py.
VALUE_TOL, GRAD_TOL = 1e-4, 1e-3

Build = Callable[[list[str]], tuple]


class DeviceCheck:
    """One run of the script: its arguments (``device``, ``size``), the report, the device's
    name; one method per section."""

    def __init__(self, args: argparse.Namespace, build: Build, root: Path, argv: list[str]) -> None:
        self.args, self.device, self.build, self.root = args, args.device, build, root
        self.name = device_name(args.device)
        self.cpu = device_name("cpu")
        self.preset = "paper" if args.size == "paper" else "tiny"
        self.report = Report(
            "SCRAPL on a GPU (scripts/gpu_check.py)",
            [
                f"Written {datetime.datetime.now().isoformat(timespec='seconds')} by "
                f"`python scripts/gpu_check.py {' '.join(argv)}` with torch "
                f"{torch.__version__}, on {platform.node()}: device **{self.name}**, host "
                f"{platform.processor() or platform.machine()}. Sizes: `--size {args.size}` "
                f"({SIZES[args.size]}). Every figure names the device that produced it.",
            ],
        )

    def fig(self, section: str, what: str, value: str, device: str | None = None, note: str = ""):
        if note.startswith("paper") and self.args.size != "paper":
            note = ""  # the paper's figures are for its sizes only
        self.report.add(section, Figure(what, value, device or self.name, note))

    # -- sections ---------------------------------------------------------------------------

    def parity(self) -> None:
        cfg = SIZES[self.args.size]
        gen = torch.Generator().manual_seed(0)
        x, y = (torch.randn(1, 1, cfg["shape"], generator=gen) for _ in range(2))
        n = SCRAPLLoss(**cfg).n_paths
        rows = loss_parity(
            lambda: SCRAPLLoss(**cfg), x, y, self.device, [0, n // 2, n - 1], "SCRAPL"
        )
        rows += loss_parity(lambda: JTFSLoss(**cfg), x, y, self.device, None, "full JTFS")
        for r in rows:
            ok = r.value <= VALUE_TOL and r.grad <= GRAD_TOL
            note = f"{'pass' if ok else 'FAIL'} (bounds {VALUE_TOL:g} / {GRAD_TOL:g})"
            value = f"loss {r.value:.2e}, gradient {r.grad:.2e}"
            self.fig(
                "parity", f"{r.what} vs CPU (relative)", value, f"{self.name} vs {self.cpu}", note
            )

    def syncs(self) -> None:
        """One SCRAPL step (forward, backward, P-Adam/P-SAGA on an attached weight) with
        CUDA's sync debug mode raising on any host-device synchronisation."""
        cfg = SIZES[self.args.size]
        loss = SCRAPLLoss(**cfg, seed=0).to(self.device)
        gen = torch.Generator().manual_seed(0)
        x, y = (torch.randn(2, 1, cfg["shape"], generator=gen).to(self.device) for _ in range(2))
        weight = torch.ones(1, 1, cfg["shape"], device=self.device, requires_grad=True)
        loss.attach_params([weight], use_hooks=False)

        def step() -> None:
            loss(x * weight, y).backward()
            loss.transform_grads()
            weight.grad = None

        step()  # the first visit allocates the path's state
        what = "SCRAPL step with P-Adam/P-SAGA under set_sync_debug_mode('error')"
        if self.device.type != "cuda":
            step()
            self.fig("syncs", what, "n/a on a CPU (the debug mode is CUDA's)")
            return
        torch.cuda.synchronize(self.device)
        torch.cuda.set_sync_debug_mode("error")
        try:
            for _ in range(3):  # revisits of paths and first visits alike
                step()
        except RuntimeError as e:
            self.fig("syncs", what, "synchronised", note=f"FAIL: {str(e).splitlines()[0][:160]}")
        else:
            self.fig("syncs", what, "no synchronisation in 3 steps", note="pass")
        finally:
            torch.cuda.set_sync_debug_mode(0)

    def determinism(self) -> None:
        for experiment in ("granular", "chirplet", "tr808"):
            cfg, _, module = self.build([f"experiment={experiment}", f"preset={self.preset}"])
            synth, n_theta = module.synth, len(cfg.theta_names)
            theta = torch.rand(8, n_theta, generator=torch.Generator().manual_seed(1))
            seed = torch.arange(8) if getattr(synth, "takes_seed", True) else None
            same, diff = render_determinism(synth, theta, seed, self.device)
            note = "pass" if same else "FAIL: the θ-IS warmup refuses it"
            self.fig(
                "determinism", f"{experiment}: two renders bit-identical", str(same), note=note
            )
            self.fig("determinism", f"{experiment}: render vs CPU (relative)", f"{diff:.2e}",
                     f"{self.name} vs {self.cpu}")  # fmt: skip
        names = {}
        with tempfile.TemporaryDirectory() as cache:
            for dev in ("cpu", self.device):
                over = ["experiment=granular", "loss=scrapl", f"preset={self.preset}",
                        "theta_is.n_examples=8", "theta_is.batch_size=4"]  # fmt: skip
                cfg, dm, module = self.build(over)
                module.to(dev)
                warm = prepare_warmup(
                    module.loss, module.encoder, module.synth, dm.train_dataset,
                    dm.train_order(0), run_seed=cfg.seed, n_examples=8, batch_size=4,
                    cache_dir=cache, label="check", n_iter=cfg.theta_is.n_iter, pad=module.pad,
                )  # fmt: skip
                names[str(dev)] = warm.save_dir.name
            module.encoder.eval()
            module.synth.eval()
            ok = module.loss.check_is_deterministic(
                warm.theta_fn, warm.theta_kwargs[0], module.synth, warm.synth_kwargs[0]
            )
        same = len(set(names.values())) == 1
        self.fig("determinism", "θ-IS warmup folder, CPU and device", "same" if same else
                 f"different: {names}", f"{self.name} and {self.cpu}",
                 "pass" if same else "FAIL")  # fmt: skip
        self.fig("determinism", "θ-IS determinism check of encoder and synth", str(ok),
                 note="pass" if ok else "FAIL")  # fmt: skip

    def timing(self) -> None:
        cfg = SIZES[self.args.size]
        scrapl = SCRAPLLoss(**cfg).to(self.device)
        gen = torch.Generator().manual_seed(0)

        def step(batch: int, loss: nn.Module, **kw: int) -> Callable[[], None]:
            x = torch.randn(batch, 1, cfg["shape"], generator=gen).to(self.device)
            y = torch.randn(batch, 1, cfg["shape"], generator=gen).to(self.device)
            x.requires_grad_(True)
            return lambda: loss(x, y, **kw).backward()

        n = scrapl.n_paths
        per_path = [
            time_fn(step(4, scrapl, path_idx=p), self.device, repeats=1)[0] for p in range(n)
        ]
        worst = max(range(n), key=per_path.__getitem__)
        median = sorted(per_path)[len(per_path) // 2]
        self.fig("timing", "SCRAPL, batch 4, median over paths (1 run each)", f"{median:.1f} ms",
                 note=f"paper: {PAPER['scrapl']}")  # fmt: skip
        for batch in (4, 32):
            ms, peak = time_fn(step(batch, scrapl, path_idx=worst), self.device)
            self.fig("timing", f"SCRAPL, batch {batch}, worst path ({worst})", _ms_mem(ms, peak),
                     note=f"paper (batch 4): {PAPER['scrapl']}" if batch == 4 else "")  # fmt: skip
        del scrapl
        full = JTFSLoss(**cfg).to(self.device)
        ms, peak = time_fn(step(4, full), self.device, repeats=2)
        self.fig("timing", "full JTFS, batch 4", _ms_mem(ms, peak), note=f"paper: {PAPER['jtfs']}")
        del full
        _, _, module = self.build(["experiment=granular", "loss=scrapl", f"preset={self.preset}"])
        params = [p.to(self.device) for p in module.encoder.parameters()]
        grads = [torch.randn(p.shape, generator=gen).to(self.device) * 1e-9 for p in params]
        pathwise = module.loss.pathwise
        times = []
        for k, p in enumerate(range(module.loss.n_paths), start=1):
            times.append(time_fn(lambda p=p, k=k: pathwise.apply_all(grads, p, k), self.device,
                                 repeats=1, warmup=0)[0])  # fmt: skip
        state_mb = pathwise.memory_bytes() / 2**20 if hasattr(pathwise, "memory_bytes") else None
        n_weights = sum(p.numel() for p in params)
        value = f"{sorted(times)[len(times) // 2]:.2f} ms per step" + (
            f", state {state_mb:.1f} MiB" if state_mb is not None else ""
        )
        self.fig("timing", f"P-Adam/P-SAGA, {n_weights} weights, all {len(times)} paths visited",
                 value)  # fmt: skip

    def lightning(self) -> None:
        gpu = self.device.type == "cuda"
        trainer, ddp = ("gpu", "ddp") if gpu else ("cpu", "ddp_cpu")
        with tempfile.TemporaryDirectory() as tmp:
            first = Path(tmp) / "first" / "checkpoints" / "last.ckpt"
            base = [
                "preset=tiny", "trainer.max_epochs=1", "logger=csv", "test=false",
                "trainer.enable_progress_bar=false", f"theta_is.cache_dir={tmp}/cache",
            ]  # fmt: skip
            resume = [f"ckpt_path={first}", "trainer.max_epochs=2"]
            runs = [
                (f"preset=tiny trainer={trainer}", "first", [f"trainer={trainer}"]),
                ("resumed on cpu", "on_cpu", ["trainer=cpu", *resume]),
                (f"resumed on {trainer}", "on_dev", [f"trainer={trainer}", *resume]),
                ("bf16-mixed", "bf16", [f"trainer={trainer}", "trainer.precision=bf16-mixed"]),
                (
                    f"trainer={ddp} trainer.devices=1",
                    "ddp",
                    [f"trainer={ddp}", "trainer.devices=1"],
                ),
            ]
            for what, name, extra in runs:
                self.fig("lightning", *self._train(Path(tmp) / name, [*base, *extra], what))

    def _train(self, run: Path, overrides: list[str], what: str) -> tuple[str, str, str, str]:
        """scripts/train.py with ``overrides`` into ``run``: (what, wall time, device, note)."""
        cmd = [sys.executable, "scripts/train.py", *overrides, f"hydra.run.dir={run}"]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=self.root, capture_output=True, text=True, timeout=300)
        wall = time.perf_counter() - start
        ok = proc.returncode == 0 and (run / "checkpoints" / "last.ckpt").is_file()
        last = ((proc.stderr or proc.stdout).strip().splitlines() or [""])[-1][:200]
        return what, f"{wall:.0f} s", self.name, "pass" if ok else f"FAIL: {last}"

    def profile(self) -> None:
        _, dm, module = self.build(["experiment=granular", "loss=scrapl", f"preset={self.preset}",
                               "++callbacks.theta_is=null"])  # fmt: skip
        module.to(self.device)
        dm.setup("fit")
        batch = dm.transfer_batch_to_device(next(iter(dm.train_dataloader())), self.device, 0)
        params = [p for p in module.encoder.parameters() if p.requires_grad]
        module.loss.attach_params(params, use_hooks=False)
        optimizer = module.optimizer_factory(params)

        def step() -> None:
            loss = module._step(batch, "train", 0)[0]
            loss.backward()
            module.on_before_optimizer_step(optimizer)
            optimizer.step()
            optimizer.zero_grad()

        def device_tensors() -> list:
            on_device = [v for k, v in batch.items() if k not in HOST_KEYS]
            return [on_device, list(module.parameters()), list(module.buffers())]

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # self.log outside a trainer
            stats = profile_steps(step, self.device, 10, device_tensors)
        b = dm.batch_size
        self.fig("profile", f"kernels per step (batch {b})", f"{stats['kernels_per_step']:.0f}")
        busy = stats["busy_fraction"]
        self.fig(
            "profile", "device busy fraction", "n/a on a CPU" if busy is None else f"{busy:.2f}"
        )
        self.fig("profile", "host reads per step", f"{stats['host_reads_per_step']:.1f}",
                 note="counted by experiments/benchmarks/host_reads.py")  # fmt: skip
        self.fig("profile", "wall time per step (profiled)", f"{stats['ms_per_step']:.1f} ms")


def _ms_mem(ms: float, peak: float | None) -> str:
    return f"{ms:.1f} ms" + ("" if peak is None else f" / {peak / 1e9:.2f} GB")
