"""How far the encoder's speed options move its output and the loss gradient.

    python scripts/benchmark.py precision -- experiment=granular loss=scrapl
    python scripts/benchmark.py precision --batches 4 -- experiment=granular preset=quick

Builds the module of the given configuration from one seed, then again as it is (the
floor: run-to-run differences) and with ``module.encoder_autocast=bf16`` or
``module.compile_encoder=true``, and on the first
training batches compares θ̂ (max |Δ|, in per mille of the unit range: the unit of the θ
metric) and the encoder gradient of the configuration's loss (relative L2 error, cosine).
The speed of a training step is measured by ``scripts/benchmark.py train``.
"""

from __future__ import annotations

import argparse

from run_builder import CONFIG_DIR, build_run

# "fp32": the same build again, the floor of the comparison.
OPTIONS = {
    "fp32": None,
    "bf16": "module.encoder_autocast=bf16",
    "compile": "module.compile_encoder=true",
}


def theta_and_grad(module, batch) -> tuple:
    """θ̂ and the flattened encoder gradient of the loss on ``batch`` (path fixed by seed 0)."""
    import torch

    module.zero_grad()
    x = module.target(batch)
    theta_hat = module(x)
    if module.compares == "theta":
        loss = module.loss(theta_hat, batch["theta"])
    else:
        x_hat, x = module.aligned(module.reconstruct(theta_hat, batch, "val"), x, batch, "val")
        kwargs = {"seed": 0} if module.samples_paths else {}
        loss = module.loss(x_hat, x, **kwargs)
    loss.backward()
    grad = torch.cat([p.grad.flatten() for p in module.encoder.parameters() if p.grad is not None])
    return theta_hat.detach(), grad.detach()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batches", type=int, default=2, help="training batches compared")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides")
    args = ap.parse_args(argv)
    import torch
    from hydra import initialize_config_dir

    if args.threads:
        torch.set_num_threads(args.threads)
    base = [*args.overrides, "model.net.dropout=0.0"]  # the same function in both builds
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        _, datamodule, reference = build_run(base, "unused")
        loader = iter(datamodule.train_dataloader())
        batches = [next(loader) for _ in range(args.batches)]
        expected = [theta_and_grad(reference, b) for b in batches]
        for name, option in OPTIONS.items():
            _, _, module = build_run(base if option is None else [*base, option], "unused")
            for i, (batch, (theta0, grad0)) in enumerate(zip(batches, expected, strict=True)):
                theta, grad = theta_and_grad(module, batch)
                d_theta = 1000 * (theta - theta0).abs().max().item()
                rel = ((grad - grad0).norm() / grad0.norm()).item()
                cos = torch.nn.functional.cosine_similarity(
                    grad.double(), grad0.double(), dim=0
                ).item()
                print(
                    f"{name} batch {i}: θ̂ max |Δ| {d_theta:.3g} ‰, gradient relative error "
                    f"{rel:.3g}, cosine {cos:.6f}"
                )
    return 0
