"""The benchmarks behind ``python scripts/benchmark.py <what> [options]``.

Each module measures one thing and has ``main(argv) -> exit status``; ``WHAT`` maps the
names to their modules and a line on what each measures (the table of ``--help`` and of
docs/benchmarks.md). Heavy libraries are imported inside the functions that use them, so
that ``--help`` answers at once.
"""

from __future__ import annotations

__all__ = ["WHAT"]

# name -> (module under benchmarks/, what it measures)
WHAT: dict[str, tuple[str, str]] = {
    "step": ("step", "time and peak memory of a SCRAPL step vs the first order and full JTFS"),
    "ops": ("ops", "operator calls (kernels) of a SCRAPL step and where its CPU time goes"),
    "pathwise": ("pathwise", "size of the P-Adam / P-SAGA state and time of one transform"),
    "losses": ("losses", "forward + backward of every loss of configs/loss/ (the paper's Table 5)"),
    "train": ("train", "seconds per training step and peak memory of a training configuration"),
    "precision": ("precision", "how far bf16 autocast / torch.compile move θ̂ and the gradient"),
    "warmup": ("warmup", "seconds per path of the θ-IS warmup"),
    "synth": ("synth", "TR-808 synth forward and forward + backward"),
    "scattering": ("scattering", "time and image scattering: SCRAPL step vs full loss vs kymatio"),
    "listen": ("listen", "build time of the listening page for a synthetic sweep"),
    "checkpoint": ("checkpoint", "size and write time of each kind of checkpoint of a run"),
}
