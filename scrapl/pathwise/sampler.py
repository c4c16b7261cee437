"""Categorical sampling of scattering paths for the SCRAPL loss.

SCRAPL (Mitcheltree et al., "SCRAPL: Scattering Transform with Random Paths for Machine
Learning", ICLR 2026) replaces the full joint time-frequency scattering distance by the
distance along a single path p, drawn at every training step from a categorical distribution
pi over the P paths. pi starts uniform and may later be replaced by importance-sampling
probabilities estimated during warmup. :class:`PathSampler` owns pi, the random state used to
draw from it, and the bookkeeping needed to resume a run bit-for-bit from a checkpoint.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import torch

__all__ = ["PathSampler"]

_SEED_MAX = 2**64  # torch.Generator.manual_seed accepts unsigned 64-bit seeds


def _check_seed(seed: Any, name: str) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be an int in [0, 2**64) or None, got {type(seed).__name__}")
    if not 0 <= int(seed) < _SEED_MAX:
        raise ValueError(f"{name} must be an int in [0, 2**64) or None, got {seed}")
    return int(seed)


class PathSampler:
    """Draws one path index per step from a categorical distribution over ``n_paths`` paths.

    Args:
        n_paths: number of paths P (int >= 1).
        sample_all_paths_first: if True, the first P unseeded calls to :meth:`sample` return a
            random permutation of all paths, so every path is visited once before pi is used.
        min_prob_frac: floor f in [0, 1]; :meth:`set_probs` mixes pi with the uniform
            distribution as ``(1 - f) * pi + f / P`` so no path is ever starved.
        seed: seed of the sampler's private generator; None draws a fresh random seed.
    """

    def __init__(
        self,
        n_paths: int,
        sample_all_paths_first: bool = False,
        min_prob_frac: float = 0.0,
        seed: int | None = None,
    ) -> None:
        if isinstance(n_paths, bool) or not isinstance(n_paths, numbers.Integral):
            raise TypeError(f"n_paths must be an int >= 1, got {type(n_paths).__name__}")
        if n_paths < 1:
            raise ValueError(f"n_paths must be an int >= 1, got {n_paths}")
        if not isinstance(sample_all_paths_first, bool):
            raise TypeError(
                "sample_all_paths_first must be a bool (True or False), "
                f"got {type(sample_all_paths_first).__name__}"
            )
        if isinstance(min_prob_frac, bool) or not isinstance(min_prob_frac, numbers.Real):
            raise TypeError(
                f"min_prob_frac must be a float in [0, 1], got {type(min_prob_frac).__name__}"
            )
        if not 0.0 <= float(min_prob_frac) <= 1.0:  # also rejects NaN
            raise ValueError(f"min_prob_frac must be a float in [0, 1], got {min_prob_frac}")
        self.n_paths: int = int(n_paths)
        self.sample_all_paths_first: bool = sample_all_paths_first
        self.min_prob_frac: float = float(min_prob_frac)
        self.unif_prob: float = 1.0 / self.n_paths
        self._seed: int | None = _check_seed(seed, "seed")
        # A private generator keeps path draws independent of (and from perturbing) the global
        # torch RNG used for model init, dropout, data shuffling, etc.
        self._gen = torch.Generator(device="cpu")
        self.clear()

    def clear(self) -> None:
        """Reset pi to uniform, re-seed the generator and restart the visit-all-first pass."""
        # π and the draws live on the host whatever the default device: choosing a path is a
        # host decision (it selects which filters run), so drawing it costs no device sync.
        self.probs: torch.Tensor = torch.full(
            (self.n_paths,), self.unif_prob, dtype=torch.float64, device="cpu"
        )
        if self._seed is None:
            self._gen.seed()  # nondeterministic, so two unseeded samplers differ
        else:
            self._gen.manual_seed(self._seed)
        # The permutation is drawn lazily on the first sample() so that it comes from the same
        # generator stream as the draws that follow, whatever set_probs calls happen in between.
        self._perm: list[int] = []
        self._perm_pos: int = 0

    def set_probs(self, probs: torch.Tensor | Sequence[float]) -> None:
        """Set pi from any non-negative, finite vector of length ``n_paths`` with positive sum.

        The vector is normalised to sum 1 and then floored by ``min_prob_frac``.
        """
        if isinstance(probs, torch.Tensor):
            p = probs.detach()
        else:
            try:
                p = torch.as_tensor(probs)
            except (TypeError, ValueError, RuntimeError) as e:
                raise TypeError(
                    "probs must be a torch.Tensor or a sequence of real numbers, "
                    f"got {type(probs).__name__}"
                ) from e
        if p.dtype == torch.bool or p.is_complex():
            raise TypeError(f"probs must have a real (int or float) dtype, got {p.dtype}")
        if p.shape != (self.n_paths,):
            raise ValueError(
                f"probs must be a 1-D vector of length n_paths={self.n_paths}, "
                f"got shape {tuple(p.shape)}"
            )
        p = p.to(device="cpu", dtype=torch.float64)
        if not torch.isfinite(p).all():
            raise ValueError("probs must be finite (no NaN or inf)")
        if (p < 0).any():
            raise ValueError("probs must be non-negative")
        total = p.sum()
        if not (torch.isfinite(total) and total > 0):
            raise ValueError(f"probs must have a positive, finite sum, got {total.item()}")
        f = self.min_prob_frac
        self.probs = (1.0 - f) * (p / total) + f * self.unif_prob

    def sample(self, seed: int | None = None) -> int:
        """Return one path index in ``[0, n_paths)``.

        With ``seed``, the draw comes from a throwaway generator seeded with it, so it is
        repeatable (for fixed pi) and leaves the sampler's own state untouched; this is meant
        for deterministic evaluation. Without it, the sampler's generator is advanced.
        """
        seed = _check_seed(seed, "seed")
        if seed is not None:
            gen = torch.Generator(device="cpu")
            gen.manual_seed(seed)
            return int(torch.multinomial(self.probs, 1, generator=gen).item())
        if self.sample_all_paths_first and self._perm_pos < self.n_paths:
            if not self._perm:
                perm = torch.randperm(self.n_paths, generator=self._gen, device="cpu")
                self._perm = perm.tolist()
            path = self._perm[self._perm_pos]
            self._perm_pos += 1
            return path
        return int(torch.multinomial(self.probs, 1, generator=self._gen).item())

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume identical draws; loadable with ``weights_only=True``."""
        return {
            "n_paths": self.n_paths,
            "sample_all_paths_first": self.sample_all_paths_first,
            "min_prob_frac": self.min_prob_frac,
            "seed": self._seed,
            "probs": self.probs.clone(),
            "generator_state": self._gen.get_state(),
            "perm": list(self._perm),
            "perm_pos": self._perm_pos,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`, including the saved settings (like torch optimizers)."""
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict from state_dict(), got {type(state).__name__}")
        keys = (
            "n_paths",
            "sample_all_paths_first",
            "min_prob_frac",
            "seed",
            "probs",
            "generator_state",
            "perm",
            "perm_pos",
        )
        missing = [k for k in keys if k not in state]
        if missing:
            raise ValueError(f"state is missing keys {missing}; expected the keys {list(keys)}")
        if state["n_paths"] != self.n_paths:
            raise ValueError(
                f"n_paths mismatch: state has n_paths={state['n_paths']}, "
                f"this sampler has n_paths={self.n_paths}"
            )
        probs = torch.as_tensor(state["probs"], dtype=torch.float64).cpu()
        if (
            probs.shape != (self.n_paths,)
            or not torch.isfinite(probs).all()
            or (probs < 0).any()
            or not math.isclose(probs.sum().item(), 1.0, abs_tol=1e-6)
        ):
            raise ValueError(f"state['probs'] must be a distribution over n_paths={self.n_paths}")
        perm = [int(i) for i in state["perm"]]
        if perm and sorted(perm) != list(range(self.n_paths)):
            raise ValueError(
                f"state['perm'] must be empty or a permutation of range({self.n_paths})"
            )
        perm_pos = int(state["perm_pos"])
        if not 0 <= perm_pos <= self.n_paths:
            raise ValueError(f"state['perm_pos'] must be in [0, n_paths={self.n_paths}]")
        gen_state = state["generator_state"]
        if not isinstance(gen_state, torch.Tensor) or gen_state.dtype != torch.uint8:
            raise TypeError("state['generator_state'] must be a uint8 tensor from get_state()")
        self.sample_all_paths_first = bool(state["sample_all_paths_first"])
        self.min_prob_frac = float(state["min_prob_frac"])
        self._seed = _check_seed(state["seed"], "state['seed']")
        self.probs = probs.clone()
        self._gen.set_state(gen_state.cpu())
        self._perm = perm
        self._perm_pos = perm_pos
