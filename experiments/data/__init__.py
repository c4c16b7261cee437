"""Datasets of the sound-matching experiments (torch-only; Lightning wrappers live elsewhere)."""
