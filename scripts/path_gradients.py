"""Sign agreement of each JTFS path's gradient with the way to the target, per synth parameter.

    python scripts/path_gradients.py -- experiment=granular preset=quick
    python scripts/path_gradients.py --batches 4 --probs out/theta_is/<dir>/probs.pt \\
        --out docs/results/path_gradients_granular_quick.md -- experiment=granular preset=quick

Composes configs/train.yaml with the overrides and ``loss=jtfs`` (the configuration's JTFS,
every path), takes the targets (θ*, seed) of the first ``--batches`` training batches of seed
0's order, draws estimates θ uniformly in [0, 1] (``--theta-seed``), renders them with the
reconstruction seeds of a training step, and measures for every path and parameter how often
the path's gradient points from θ toward θ* (experiments.analysis.path_gradients). With
``--probs`` (a θ-IS ``probs.pt``) it also reports the rank correlation of π with that
agreement. Each ``--compare-probs`` file (repeatable: e.g. θ-IS warmups of several sizes) adds
a row with π's normalised entropy H(π) / log P (1: uniform), its effective number of paths
exp(H), and per parameter its rank correlation with the agreement and the agreement of one
path drawn from it. Writes a Markdown report to ``--out`` (default: printed).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from experiments.analysis.path_gradients import PathGradientSummary


def _fmt(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def report(
    command: str,
    summaries: list[PathGradientSummary],
    per_path: torch.Tensor,
    magnitudes: torch.Tensor,
    names: list[str],
    n_pairs: int,
    probs: torch.Tensor | None,
    compared: list[tuple[str, torch.Tensor, list[PathGradientSummary]]] = (),
) -> str:
    """The Markdown report: a summary per parameter, the compared π (if any), then one row
    per path."""
    lines = [
        "# Per-path gradient sign agreement",
        "",
        f"`{command}`",
        "",
        f"{n_pairs} pairs of target and estimate; agreement 1: the path's gradient always points "
        "toward the target, ½: it says nothing, 0: always away.",
        "",
        "| θ | one uniform path | one path from π | full JTFS (mean of paths) "
        f"| paths ≥ {summaries[0].threshold:g} | Spearman ρ(π, agreement) (p) |",
        "|---|---|---|---|---|---|",
    ]
    for s in summaries:
        rho = "–" if s.spearman_rho is None else f"{s.spearman_rho:.2f} ({s.spearman_p:.2g})"
        lines.append(
            f"| {s.name} | {s.mean_path_agreement:.3f} | {_fmt(s.probs_agreement, '.3f')} "
            f"| {s.full_loss_agreement:.3f} | {s.n_paths_above} / {per_path.shape[0]} | {rho} |"
        )
    if compared:
        from experiments.callbacks.pathwise_stats import probs_entropy

        head = ["π", "H(π) / log P", "effective paths"]
        head += [f"{n}: ρ(π, agreement) (p)" for n in names]
        head += [f"{n}: one path from π" for n in names]
        lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for label, pi, sums in compared:
            entropy, effective = probs_entropy(pi)
            rhos = [
                "–" if s.spearman_rho is None else f"{s.spearman_rho:.2f} ({s.spearman_p:.2g})"
                for s in sums
            ]
            drawn = [f"{s.probs_agreement:.3f}" for s in sums]
            cells = [f"`{label}`", f"{entropy:.3f}", f"{effective:.1f}", *rhos, *drawn]
            lines.append("| " + " | ".join(cells) + " |")
    header = ["path", *(f"{n} agreement" for n in names), *(f"{n} median abs grad" for n in names)]
    if probs is not None:
        header.append("π")
    lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for p in range(per_path.shape[0]):
        row = [str(p), *(f"{v:.3f}" for v in per_path[p].tolist())]
        row += [f"{v:.2e}" for v in magnitudes[p].tolist()]
        if probs is not None:
            row.append(f"{float(probs[p]):.4f}")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def _without_out(argv: list[str] | None) -> list[str]:
    """The command line's arguments less ``--out FILE`` (where the report goes)."""
    args = list(argv if argv is not None else sys.argv[1:])
    kept, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a == "--out":
            skip = True
        elif not a.startswith("--out="):
            kept.append(a)
    return kept


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batches", type=int, default=2, help="training batches of targets")
    ap.add_argument("--theta-seed", type=int, default=0, help="seed of the random estimates")
    ap.add_argument("--probs", type=Path, default=None, help="a θ-IS probs.pt to compare with")
    ap.add_argument(
        "--compare-probs",
        type=Path,
        action="append",
        default=[],
        help="another probs.pt to set beside the agreement (repeatable)",
    )
    ap.add_argument("--threshold", type=float, default=0.75, help="agreement counted as high")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--out", type=Path, default=None, help="Markdown file (default: print)")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides")
    args = ap.parse_args(argv)
    # Imported after parsing: --help answers without torch.
    import torch
    from hydra import initialize_config_dir
    from run_builder import CONFIG_DIR, build_run

    from experiments.analysis.path_gradients import (
        median_magnitudes,
        path_gradients,
        sign_agreement,
        summarise_paths,
    )
    from experiments.audio_io import atomic_output
    from experiments.data.recon_seeds import reconstruction_seeds
    from experiments.synth_protocol import synth_takes_seed
    from scrapl.validation import load_torch_file

    if args.batches < 1:
        ap.error(f"--batches must be >= 1, got {args.batches}")
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = [*args.overrides, "loss=jtfs", "callbacks=none", "logger=none"]
    with (
        tempfile.TemporaryDirectory() as out,
        initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"),
    ):
        cfg, datamodule, module = build_run(overrides, out)
    if not synth_takes_seed(module.synth):
        print(
            f"error: {type(module.synth).__name__} takes no seed (recorded or deterministic "
            "targets); this analysis needs a synth rendered from (θ, seed)",
            file=sys.stderr,
        )
        return 2
    loaded = {}
    for path in [*([args.probs] if args.probs is not None else []), *args.compare_probs]:
        probs = load_torch_file(path, "path probabilities")
        if not isinstance(probs, torch.Tensor) or probs.shape != (module.loss.n_paths,):
            print(
                f"error: probs must hold one probability per path, shape "
                f"({module.loss.n_paths},), got {getattr(probs, 'shape', type(probs).__name__)} "
                f"in {str(path)!r}",
                file=sys.stderr,
            )
            return 2
        loaded[path] = probs
    probs = None if args.probs is None else loaded[args.probs]
    datamodule.setup("fit")
    gen = torch.Generator().manual_seed(args.theta_seed)
    grads, thetas, targets = [], [], []
    for i, batch in enumerate(datamodule.train_dataloader()):
        if i == args.batches:
            break
        theta = torch.rand(batch["theta"].shape, generator=gen)
        seed_hat = reconstruction_seeds(cfg.seed, "train", 0, batch["seed"])
        grads.append(
            path_gradients(
                module.synth, module.loss, batch["theta"], theta, batch["seed"], seed_hat
            )
        )
        thetas.append(theta)
        targets.append(batch["theta"])
    g, theta, target = torch.cat(grads, dim=1), torch.cat(thetas), torch.cat(targets)
    names = list(cfg.theta_names)
    summaries = summarise_paths(g, theta, target, names, probs, args.threshold)
    compared = [
        (str(path), loaded[path], summarise_paths(g, theta, target, names, loaded[path]))
        for path in args.compare_probs
    ]
    command = "python scripts/path_gradients.py " + shlex.join(_without_out(argv))
    text = report(
        command,
        summaries,
        sign_agreement(g, theta, target),
        torch.from_numpy(median_magnitudes(g)),
        names,
        theta.shape[0],
        probs,
        compared,
    )
    if args.out is None:
        print(text)
    else:
        with atomic_output(args.out) as tmp:
            tmp.write_text(text)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
