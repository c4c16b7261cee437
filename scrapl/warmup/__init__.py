"""θ-importance sampling (θ-IS) warmup: path probabilities from per-path curvature.

:mod:`scrapl.warmup.theta_is` holds the public functions and their definition,
:mod:`scrapl.warmup.args` the argument checks, :mod:`scrapl.warmup.curvature` the
Hessian-vector power iteration and :mod:`scrapl.warmup.store` the directory format.
"""

from scrapl.warmup.theta_is import (
    EIG_EPS,
    check_is_deterministic,
    load_probs_from_warmup_dir,
    probs_from_vals,
    warmup_lc_hvp,
    warmup_record,
)

__all__ = [
    "EIG_EPS",
    "check_is_deterministic",
    "load_probs_from_warmup_dir",
    "probs_from_vals",
    "warmup_lc_hvp",
    "warmup_record",
]
