"""Values of a training config refused before anything is built or written.

A negative learning rate or an empty batch would otherwise fail deep inside torch or
Lightning, after the model and the run folder exist. :func:`check_run_config` looks at the
resolved config (a plain mapping, as ``scripts/train.py`` records it) and raises one
:class:`ConfigValueError` naming every bad key, its value and what it accepts. Keys that a
config does not have are not checked (the TR-808 data have no θ grid).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ConfigValueError", "check_run_config"]


class ConfigValueError(ValueError):
    """One or more config values out of their range; the message names each key."""


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _positive(v: Any) -> bool:
    return _number(v) and v > 0


def _non_negative(v: Any) -> bool:
    return _number(v) and v >= 0


def _int_at_least(low: int) -> Callable[[Any], bool]:
    return lambda v: _int(v) and v >= low


def _epochs_or_steps(v: Any) -> bool:
    return _int(v) and (v == -1 or v >= 1)


# key (dotted) -> (accepted, what is accepted)
RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "seed": (_int_at_least(0), "an int >= 0"),
    "lr": (_positive, "a finite number > 0"),
    "weight_decay": (_non_negative, "a finite number >= 0"),
    "optimizer.lr": (_positive, "a finite number > 0"),
    "optimizer.weight_decay": (_non_negative, "a finite number >= 0"),
    "optimizer.momentum": (_non_negative, "a finite number >= 0"),
    "data.batch_size": (_int_at_least(1), "an int >= 1"),
    "data.n_per_dim": (_int_at_least(2), "an int >= 2"),
    "data.n_seeds": (_int_at_least(1), "an int >= 1"),
    "synth.n_samples": (_int_at_least(1), "an int >= 1"),
    "trainer.max_epochs": (_epochs_or_steps, "an int >= 1, or -1 (no limit)"),
    "trainer.max_steps": (_epochs_or_steps, "an int >= 1, or -1 (no limit)"),
    "trainer.accumulate_grad_batches": (_int_at_least(1), "an int >= 1"),
    "trainer.check_val_every_n_epoch": (_int_at_least(1), "an int >= 1"),
    "theta_is.n_examples": (_int_at_least(1), "an int >= 1"),
    "theta_is.batch_size": (_int_at_least(1), "an int >= 1"),
    "theta_is.n_iter": (_int_at_least(1), "an int >= 1"),
    "theta_is.seed": (_int_at_least(0), "null or an int >= 0"),
    "module.grad_mult": (_positive, "a finite number > 0"),
    "module.n_val_examples": (_int_at_least(0), "an int >= 0"),
    **{f"jtfs.{k}": (_int_at_least(1), "an int >= 1") for k in ("J", "Q1", "Q2", "J_fr", "Q_fr")},
}

_MISSING = object()


def _get(cfg: Mapping[str, Any], key: str) -> Any:
    node: Any = cfg
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def check_run_config(cfg: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigValueError` naming every key of :data:`RULES` whose value is out
    of range (``lr=-1 data.batch_size=0`` -> both named); keys absent or null pass."""
    if not isinstance(cfg, Mapping):
        raise TypeError(f"cfg must be a mapping (the resolved config), got {type(cfg).__name__}")
    bad = []
    for key, (accepted, what) in RULES.items():
        value = _get(cfg, key)
        if value is _MISSING or value is None:
            continue
        if not accepted(value):
            bad.append(f"{key}={value!r}: must be {what}")
    if bad:
        raise ConfigValueError(
            "config value(s) refused before anything was built or written:\n  " + "\n  ".join(bad)
        )
