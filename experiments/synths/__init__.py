"""Differentiable synths of the sound-matching experiments: theta -> controls -> audio."""
