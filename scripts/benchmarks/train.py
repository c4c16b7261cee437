"""Seconds per training step and peak memory of a sound-matching configuration.

    python scripts/benchmark.py train --steps 5 -- experiment=granular loss=scrapl
    python scripts/benchmark.py train --steps 20 -- experiment=granular loss=mss_linear preset=quick

Composes configs/train.yaml with the given overrides, then fits a real Lightning trainer for
``--skip + --steps`` training steps (no validation, no θ-IS warmup, no logger, no
checkpoints) and reports the median wall time of the last ``--steps`` steps (data, synth,
encoder, loss, backward, P-Adam/P-SAGA, optimizer) and the process's peak RSS, or CUDA's
max allocated memory on a GPU. Run one configuration per process for a clean peak.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from run_builder import CONFIG_DIR, build_run

from benchmarks.common import peak_rss_mb


def step_timer():
    """A callback keeping the wall time of every training step (synchronised with the GPU
    when there is one)."""
    import lightning.pytorch as pl
    import torch

    class StepTimes(pl.Callback):
        def __init__(self) -> None:
            self.times: list[float] = []
            self._start = 0.0

        def _sync(self) -> None:
            if torch.cuda.is_available():
                torch.cuda.synchronize()

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            self._sync()
            self._start = time.perf_counter()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            self._sync()
            self.times.append(time.perf_counter() - self._start)

    return StepTimes()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=5, help="timed steps")
    ap.add_argument("--skip", type=int, default=2, help="untimed first steps")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides")
    args = ap.parse_args(argv)
    import torch
    from hydra import initialize_config_dir
    from hydra.utils import instantiate

    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = [
        *args.overrides,
        "callbacks=none",
        "++callbacks.theta_is=null",
        "logger=none",
        "trainer.enable_progress_bar=false",
        "+trainer.enable_checkpointing=false",
        "trainer.limit_val_batches=0",
        f"trainer.max_steps={args.skip + args.steps}",
    ]
    with (
        tempfile.TemporaryDirectory() as out,
        initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"),
    ):
        cfg, datamodule, module = build_run(overrides, out)
        timer = step_timer()
        trainer = instantiate(cfg.trainer, callbacks=[timer], logger=False)
        trainer.fit(module, datamodule=datamodule)
    times = timer.times[args.skip :]
    if torch.cuda.is_available():
        memory = f"max allocated {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB"
    else:
        memory = f"peak RSS {peak_rss_mb() / 1024:.2f} GB"
    n_weights = sum(p.numel() for p in module.encoder.parameters())
    print(
        f"{' '.join(args.overrides)}: batch {cfg.data.batch_size}, {n_weights} encoder weights, "
        f"{len(times)} steps: median {statistics.median(times):.3f} s/step "
        f"(min {min(times):.3f}, max {max(times):.3f}), {memory}, "
        f"{torch.get_num_threads()} threads"
    )
    return 0
