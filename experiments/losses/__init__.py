"""Baseline losses of the sound-matching experiments (Mitcheltree et al., ICLR 2026)."""
