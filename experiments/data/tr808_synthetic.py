"""Synthetic drum one-shots rendered by the TR-808 synth from known parameters.

So that the TR-808 experiment runs with no external data, and so that the θ error (L1 in per
mille) is a metric too, this collection draws ``theta`` around four drum regions and renders
it with :class:`experiments.synths.tr808.TR808Synth`. Example ``i`` has the drum type
``types[i % len(types)]`` and its ``theta`` drawn uniformly inside that type's region by a
``torch.Generator`` seeded with ``seed + i`` (so adding examples leaves the earlier ones
unchanged). Rendering the default 684 examples takes seconds; the result is cached once, as
one ``torch.save`` file written atomically under ``cache_dir`` (never in the repository), named
by a hash of everything it depends on, and re-rendered if the file is missing, unreadable or
for another configuration. Bump ``_FORMAT`` when the synth's output changes.

The noise buffer is part of the sound: a model reconstructs these targets exactly only with a
synth built with the same ``noise_seed``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import torch

from experiments.audio_io import atomic_output
from experiments.data.one_shot_dataset import OneShotCollection
from experiments.synths.tr808 import PARAMETERS, TR808Synth
from scrapl.validation import check_int

__all__ = ["DRUM_REGIONS", "TR808SyntheticOneShots", "draw_region_theta"]

logger = logging.getLogger(__name__)

_FORMAT = 1

# Physical ranges (units of experiments.synths.tr808.PARAMETERS) of each drum type; theta is
# uniform in the box they span. Parameters not named keep the full range of the synth.
DRUM_REGIONS: dict[str, dict[str, tuple[float, float]]] = {
    # 808 bass drum: a low sine whose pitch falls fast from up to 3x its base, a long
    # decay, a faint octave partial, a short noise click, some saturation.
    "kick": {
        "osc1_freq": (45.0, 65.0), "osc1_mod": (0.5, 2.0),
        "osc2_freq": (90.0, 130.0), "osc2_mod": (0.5, 2.0),
        "freq_decay": (20.0, 80.0), "osc1_decay": (300.0, 1200.0), "osc2_decay": (50.0, 200.0),
        "noise_decay": (10.0, 30.0), "noise_freq": (1000.0, 5000.0), "noise_q": (0.5, 2.0),
        "osc1_gain": (-6.0, 0.0), "osc2_gain": (-24.0, -12.0), "noise_gain": (-40.0, -24.0),
        "tanh_gain": (0.0, 12.0),
    },
    # snare: two drum-head modes near 180 and 330 Hz with little pitch drop, short decays,
    # and a loud bright noise burst (the snares) that lasts as long or longer.
    "snare": {
        "osc1_freq": (160.0, 220.0), "osc1_mod": (0.0, 0.3),
        "osc2_freq": (300.0, 400.0), "osc2_mod": (0.0, 0.3),
        "freq_decay": (10.0, 50.0), "osc1_decay": (80.0, 200.0), "osc2_decay": (50.0, 150.0),
        "noise_decay": (80.0, 250.0), "noise_freq": (1500.0, 5000.0), "noise_q": (0.5, 1.5),
        "osc1_gain": (-12.0, -3.0), "osc2_gain": (-18.0, -6.0), "noise_gain": (-9.0, 0.0),
        "tanh_gain": (-6.0, 6.0),
    },
    # toms (low / mid / high): one pitched sine, 80-300 Hz, with a small downward sweep and
    # a medium decay, an upper partial, a faint click.
    "tom": {
        "osc1_freq": (80.0, 300.0), "osc1_mod": (0.1, 0.6),
        "osc2_freq": (160.0, 600.0), "osc2_mod": (0.1, 0.6),
        "freq_decay": (50.0, 200.0), "osc1_decay": (150.0, 500.0), "osc2_decay": (80.0, 300.0),
        "noise_decay": (10.0, 40.0), "noise_freq": (1000.0, 4000.0), "noise_q": (0.5, 2.0),
        "osc1_gain": (-6.0, 0.0), "osc2_gain": (-24.0, -12.0), "noise_gain": (-36.0, -18.0),
        "tanh_gain": (-6.0, 6.0),
    },
    # hi-hats: noise high-passed above 6 kHz, closed (30 ms) to open (500 ms); the
    # oscillators are nearly silent and short.
    "hat": {
        "osc1_freq": (800.0, 2000.0), "osc1_mod": (0.0, 0.2),
        "osc2_freq": (800.0, 2000.0), "osc2_mod": (0.0, 0.2),
        "freq_decay": (10.0, 50.0), "osc1_decay": (10.0, 50.0), "osc2_decay": (10.0, 50.0),
        "noise_decay": (30.0, 500.0), "noise_freq": (6000.0, 12000.0), "noise_q": (0.7, 3.0),
        "osc1_gain": (-60.0, -40.0), "osc2_gain": (-60.0, -40.0), "noise_gain": (-6.0, 0.0),
        "tanh_gain": (-6.0, 6.0),
    },
}  # fmt: skip


def _theta_box(drum_type: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(lo, hi)`` theta bounds, each ``(14,)`` float64, of a drum type's region."""
    if drum_type not in DRUM_REGIONS:
        raise ValueError(f"drum type must be one of {sorted(DRUM_REGIONS)}, got {drum_type!r}")
    region = DRUM_REGIONS[drum_type]
    lo, hi = [], []
    for p in PARAMETERS:
        a, b = region.get(p.name, (p.lo, p.hi))
        lo.append((a - p.lo) / (p.hi - p.lo))
        hi.append((b - p.lo) / (p.hi - p.lo))
    return torch.tensor(lo, dtype=torch.float64), torch.tensor(hi, dtype=torch.float64)


def draw_region_theta(drum_type: str, seed: int) -> torch.Tensor:
    """``(14,)`` float32 theta uniform in the region of ``drum_type``, from ``seed``."""
    lo, hi = _theta_box(drum_type)
    u = torch.rand(
        len(PARAMETERS), generator=torch.Generator().manual_seed(seed), dtype=torch.float64
    )
    return (lo + (hi - lo) * u).clamp(0.0, 1.0).to(torch.float32)


class TR808SyntheticOneShots(OneShotCollection):
    """Drum hits rendered from theta drawn in :data:`DRUM_REGIONS`, cached, and their split.

    Args:
        cache_dir: folder of the cache file (created if missing), e.g. the run's data cache.
        n_per_type: examples per drum type.
        types: drum types, in the order examples cycle through them.
        seed: example ``i`` draws its theta with seed ``seed + i``.
        split, split_seed: see :func:`experiments.data.one_shot_dataset.split_indices`
            (the paper's 425 / 128 / 128 by default, of 684 examples here).
        sr, n_samples, noise_seed: the synth's (use the training synth's ``noise_seed``).
        render_batch: examples per synth call while rendering.
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike,
        n_per_type: int = 171,
        types: Sequence[str] = ("kick", "snare", "tom", "hat"),
        seed: int = 0,
        split: Sequence[float | int] = (425, 128, 128),
        split_seed: int = 0,
        sr: int = 44100,
        n_samples: int = 44100,
        noise_seed: int = 0,
        render_batch: int = 64,
    ) -> None:
        self.n_per_type = check_int("n_per_type", n_per_type, 1)
        self.types = [str(t) for t in types]
        if not self.types:
            raise ValueError("types must name at least one drum type")
        for t in self.types:
            _theta_box(t)
        self.seed = check_int("seed", seed, 0)
        self.synth = TR808Synth(sr=sr, n_samples=n_samples, noise_seed=noise_seed)
        self.render_batch = check_int("render_batch", render_batch, 1)
        n = self.n_per_type * len(self.types)
        self.drum_types = [self.types[i % len(self.types)] for i in range(n)]
        self.names = [f"{t}_{i:04d}" for i, t in enumerate(self.drum_types)]
        self.config = {
            "format": _FORMAT,
            "n": n,
            "types": self.types,
            "seed": self.seed,
            "sr": self.synth.sr,
            "n_samples": self.synth.n_samples,
            "noise_seed": self.synth.noise_seed,
            "regions": {t: DRUM_REGIONS[t] for t in sorted(set(self.types))},
        }
        digest = hashlib.sha256(json.dumps(self.config, sort_keys=True).encode()).hexdigest()
        self.cache_path = Path(cache_dir) / f"tr808_synthetic_{digest[:16]}.pt"
        self.theta, self.audio = self._load_or_render()
        self._set_split(split, split_seed)

    def _load_or_render(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.cache_path.is_file():
            try:
                cached = torch.load(self.cache_path, map_location="cpu", weights_only=True)
                if cached["config"] == self.config:
                    return cached["theta"], cached["audio"]
                logger.warning("%s is for another configuration: rendering again", self.cache_path)
            except Exception as err:  # a corrupt or foreign file: render it again
                logger.warning("cannot read %s (%s): rendering again", self.cache_path, err)
        theta = torch.stack(
            [draw_region_theta(t, self.seed + i) for i, t in enumerate(self.drum_types)]
        )
        with torch.no_grad():
            audio = torch.cat(
                [self.synth(chunk)[:, 0] for chunk in torch.split(theta, self.render_batch)]
            )
        with atomic_output(self.cache_path) as tmp:
            torch.save({"config": self.config, "theta": theta, "audio": audio}, tmp)
        logger.info("rendered %d TR-808 one-shots into %s", len(theta), self.cache_path)
        return theta, audio

    def __repr__(self) -> str:
        sizes = {k: len(v) for k, v in self.splits.items()}
        return (
            f"TR808SyntheticOneShots(n={len(self)}, cache={str(self.cache_path)!r}, splits={sizes})"
        )
