"""Evaluation metrics of the sound-matching experiments (numpy/scipy; not losses)."""
