"""How the experiments call a synth: ``synth(theta, seed)``, or ``synth(theta)`` for a synth
that draws no randomness.

The module (experiments/module.py) and the θ-IS glue reach a synth only through the object
they are given; this is the whole of what they assume about it besides ``forward``'s
shapes (``theta`` ``(batch, n_theta)`` in [0, 1] -> audio ``(batch, 1, n_samples)``).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

__all__ = ["render", "synth_takes_seed"]

SeedLike = int | Tensor | Sequence[int]


def synth_takes_seed(synth: nn.Module) -> bool:
    """Whether ``synth`` is called as ``synth(theta, seed)`` (True) or ``synth(theta)``.

    A synth says so with a boolean class attribute ``takes_seed``: the granular and chirplet
    synths draw their randomness from a seed (True), the TR-808 synth is deterministic
    (False). A synth without the attribute is taken to need a seed, the signature the
    sound-matching experiments were written for.
    """
    value = getattr(synth, "takes_seed", True)
    if not isinstance(value, bool):
        raise TypeError(
            f"{type(synth).__name__}.takes_seed must be a bool (whether forward takes a seed), "
            f"got {value!r}"
        )
    return value


def render(synth: nn.Module, theta: Tensor, seed: SeedLike | None = None) -> Tensor:
    """``synth(theta, seed)``, or ``synth(theta)`` for a synth that takes no seed.

    Raises:
        ValueError: the synth takes a seed and ``seed`` is None.
    """
    if not synth_takes_seed(synth):
        return synth(theta)
    if seed is None:
        raise ValueError(
            f"{type(synth).__name__} takes a seed (its randomness), but none was given: the "
            "batch needs a 'seed' per example"
        )
    return synth(theta, seed)
