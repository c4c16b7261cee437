"""What ``scripts/gpu_check.py`` measures, by name: its sections, the transform sizes, and the
paper's figures it is compared with. Plain Python, so that ``--help`` imports no torch."""

__all__ = ["PAPER", "SECTIONS", "SIZES"]

SECTIONS = ("parity", "syncs", "determinism", "timing", "lightning", "profile")
SIZES = {
    "paper": dict(shape=32768, J=12, Q1=8, Q2=2, J_fr=3, Q_fr=2, T=4096, F=8),
    "tiny": dict(shape=4096, J=6, Q1=4, Q2=1, J_fr=2, Q_fr=1),
}
PAPER = {"scrapl": "89.8 ms / 2.50 GB", "jtfs": "1730 ms / 12.97 GB"}  # Table 5, batch 4
