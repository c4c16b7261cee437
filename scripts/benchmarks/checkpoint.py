"""Size and write time of a SCRAPL run's checkpoints once every path has been visited.

    python scripts/benchmark.py checkpoint -- experiment=granular loss=scrapl     # paper set-up
    python scripts/benchmark.py checkpoint --step-s 0.0898 --steps-per-epoch 96 -- ...

Builds the module as a training run does, gives the P-Adam/P-SAGA transform one random
gradient on every path (the state is allocated per visited path: this is its largest size),
then times, for each kind of file of experiments/checkpoint_policy.py: the module's
``state_dict()`` and the atomic write (``torch.save`` + fsync + rename, the project's
checkpoint IO) into a temporary folder; and prints the size, the fraction of an epoch that
one write per epoch costs at ``--step-s`` seconds per step, and the fewest steps between
full writes that keep writing under ``--max-fraction`` of training time.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from run_builder import CONFIG_DIR, build_run


def _fill_pathwise(module) -> int:
    """One random gradient per path through the loss's transform; returns the paths."""
    import torch

    loss = module.loss
    params = [p for p in module.encoder.parameters() if p.requires_grad]
    gen = torch.Generator().manual_seed(0)
    for step, path in enumerate(range(loss.n_paths), start=1):
        grads = [torch.randn(p.shape, generator=gen) * 1e-9 for p in params]
        loss.pathwise.apply_all(grads, path, step)
    return loss.n_paths


def _measure(module, kind: str, folder: Path) -> tuple[float, float, int]:
    """(state_dict seconds, write seconds, bytes) of one ``kind`` of checkpoint."""
    from experiments.checkpoint_io import AtomicCheckpointIO
    from experiments.checkpoint_policy import pathwise_state_omitted, store_pathwise_as

    context: AbstractContextManager = (
        pathwise_state_omitted(module.loss) if kind == "best-k" else nullcontext()
    )
    start = time.perf_counter()
    with context:
        checkpoint = {"state_dict": module.state_dict(), "epoch": 0, "global_step": 0}
    if kind == "last, bfloat16":
        store_pathwise_as(checkpoint, "bfloat16")
    t_state = time.perf_counter() - start
    path = folder / f"{kind.replace(', ', '_')}.ckpt"
    start = time.perf_counter()
    AtomicCheckpointIO().save_checkpoint(checkpoint, path)
    t_write = time.perf_counter() - start
    size = os.path.getsize(path)
    path.unlink()
    return t_state, t_write, size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--step-s", type=float, default=0.0898, help="s per training step")
    ap.add_argument("--steps-per-epoch", type=int, default=96)
    ap.add_argument("--max-fraction", type=float, default=0.05)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dir", default=None, help="folder to write into (default: a temporary)")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides")
    args = ap.parse_args(argv)
    import torch
    from hydra import initialize_config_dir

    from experiments.checkpoint_policy import cadence_steps

    torch.set_num_threads(args.threads)
    if args.dir is not None:
        Path(args.dir).mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(dir=args.dir) as out,
        initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"),
    ):
        _, _, module = build_run([*args.overrides, "logger=none"], out)
        params = [p for p in module.encoder.parameters() if p.requires_grad]
        module.loss.attach_params(params, use_hooks=False)
        n_paths = _fill_pathwise(module)
        epoch_s = args.step_s * args.steps_per_epoch
        print(
            f"{' '.join(args.overrides)}: {sum(p.numel() for p in params)} weights, "
            f"{n_paths} paths visited; epoch "
            f"{args.steps_per_epoch} x {args.step_s * 1e3:.1f} ms = {epoch_s:.2f} s; "
            f"{torch.get_num_threads()} thread(s)"
        )
        print(
            f"{'file':<16}{'MB':>9}{'state_dict s':>14}{'write s':>9}{'total s':>9}"
            f"{'% of epoch':>12}{'cadence (steps)':>17}"
        )
        for kind in ("last", "last, bfloat16", "best-k"):
            t_state, t_write, size = _measure(module, kind, Path(out))
            total = t_state + t_write
            print(
                f"{kind:<16}{size / 1e6:>9.1f}{t_state:>14.2f}{t_write:>9.2f}{total:>9.2f}"
                f"{100 * total / epoch_s:>12.1f}"
                f"{cadence_steps(total, args.step_s, args.max_fraction):>17}"
            )
    return 0
