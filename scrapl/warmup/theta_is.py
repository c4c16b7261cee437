"""θ-importance sampling (θ-IS): path probabilities from the curvature each path induces.

SCRAPL (Mitcheltree et al., ICLR 2026) draws one scattering path p per training step from a
categorical distribution π. θ-IS sets π, once before training, from the local Lipschitz
constant (curvature) of each path's gradient with respect to the encoder weights, measured
separately for every synthesizer parameter θ_u.

Set-up: an encoder E with weights w (``params``) maps a batch to θ = E(w) ∈ [0, 1]^(B×U)
(``theta_fn(**theta_fn_kwargs)``, shape ``(B, U)``), a synthesizer D maps θ to audio
x̃ = D(θ) (``synth_fn(theta, **synth_fn_kwargs)``, shape ``(B, channels, N)``).

Definition used here (it reproduces the seed README's printed values, see below):

* ``loss_p(w) = L_p(D(E(w)), x)``: the loss's own distance along path p (ρ, p-norm over
  (frequency, time), **mean over the batch**, exactly as :meth:`SCRAPLLoss.forward` with
  ``path_idx=p``) between the reconstruction and the target audio x. The target is the
  encoder's input audio batch, ``theta_fn_kwargs[i][target_key]`` (default key ``"x"``): in
  sound matching the encoder reads the target and the synth should reproduce it. It is
  treated as data (no gradient flows into it).
* ``s_{b,u,p}(w) = ∂loss_p / ∂θ_{b,u}``, kept as a function of w (**not detached**).
* ``g_{u,p}(w) = Σ_b s_{b,u,p}(w) ∇_w θ_{b,u}(w)``: the part of ∇_w loss_p that flows through
  θ dim u. Its Jacobian ``A_{u,p} = ∂g_{u,p}/∂w = Σ_b s_b ∇²_w θ_{b,u} + Σ_b ∇_w θ_{b,u} ∇_w s_bᵀ``
  is in general not symmetric; summed over u it is the Hessian of loss_p.
* ``λ_{u,p}``: the largest-magnitude eigenvalue of A_{u,p}, by power iteration on the
  vector products ``v ↦ ∇_w ⟨g_{u,p}(w), v⟩ = A_{u,p}ᵀ v`` (same eigenvalues as A_{u,p};
  double backward through the encoder, synth and path distance). The start vector is
  standard normal, drawn from a ``torch.Generator`` seeded with ``p * 100003 + u`` (one
  fresh draw per batch, in batch order), normalised over all parameters jointly. Each of
  the ``n_iter`` iterations computes ``y = Aᵀ v`` (one double backward) and ``v ← y / ‖y‖``;
  the eigenvalue is the Rayleigh quotient ``vᵀ y`` (v of unit norm, y = Aᵀ v, so
  ``vᵀ y = vᵀ A v``) of the last iteration.
* ``C[u, p] = max(mean_batches |λ_{u,p}|, 1e-12)``.
* ``π_p = (1/U) Σ_u C[u, p] / Σ_p' C[u, p']``, then the sampler's floor
  ``(1 − f) π_p + f / P`` (``min_prob_frac`` = f, applied once, by
  :meth:`scrapl.sampler.PathSampler.set_probs`).

Candidates that do *not* reproduce the seed (seed example, 7 paths × 3 θ dims): detached s
(C[0, 0] = 0.818 instead of 0.990), all-zeros target (1.484), detached s with zeros target
(1.065). Summing instead of averaging over the batch scales C by the batch size and leaves π
unchanged. The chosen definition, with the default 20 iterations, gives 14 of the 21 printed
values to all 4 digits and the other 7 (six of θ dim 2) within 0.9%, π in [0.123649, 0.162211]
vs the seed's [0.123653, 0.162354]; converged (200 iterations) π is in [0.123668, 0.162457].
Twenty iterations are not always fully converged when A has two eigenvalues of nearly equal
magnitude and opposite sign: the estimate then oscillates by ~1% around its limit, and the
seed's own 20-iteration values (another start vector) differ from the limit as much as ours.
Raise ``n_iter`` if that matters.

Files in ``save_dir`` (all written atomically: temporary file, then :func:`os.replace`):

* ``config.json``: everything that changes the values (loss configuration, distance,
  n_paths, n_theta, n_iter, n_batches, target key, SHA-256 fingerprints of the warmup data
  and of the parameter values). A later call with another configuration is refused.
* ``vals_{p}_{u}.pt``: ``{"path_idx", "theta_idx", "value": C[u, p], "batch_eigs",
  "n_iter"}``. Existing files are skipped, so a killed warmup resumes where it stopped and
  several processes can share the work by path ranges and/or θ subsets; the per-(p, u) seeds
  make the values independent of how the work is split.
* ``probs.pt``: π **before** the floor (a ``(n_paths,)`` float64 tensor), written once every
  (p, u) is present; ``SCRAPLLoss.load_probs`` applies the loss's own floor to it.

Code layout: this module holds the public functions and π; :mod:`scrapl.warmup.args` checks
the arguments and wraps the calls of ``theta_fn`` and ``synth_fn``, :mod:`scrapl.warmup.curvature`
runs the power iteration, and :mod:`scrapl.warmup.store` defines and reads/writes the files.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path as FilePath
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from scrapl.validation import check_int
from scrapl.warmup.args import (
    call_synth_fn,
    call_theta_fn,
    check_callable,
    check_kwargs_dict,
    check_kwargs_list,
    check_params,
    check_path_range,
    check_save_dir,
    check_targets,
    check_theta_idxs,
)
from scrapl.warmup.curvature import PROGRESS, path_batch_eigenvalues, progress_bar
from scrapl.warmup.store import (
    CONFIG_NAME,
    PROBS_NAME,
    atomic_torch_save,
    check_or_write_config,
    compare_config,
    list_missing,
    load_val,
    loss_record,
    read_config,
    save_val,
    sha256,
    vals_name,
)

if TYPE_CHECKING:
    from scrapl.losses.random_path import RandomPathLoss

# Messages belong to the loss's logger, as in the seed README's console output.
log = logging.getLogger("scrapl.scrapl_loss")

__all__ = [
    "EIG_EPS",
    "check_is_deterministic",
    "load_probs_from_warmup_dir",
    "probs_from_vals",
    "warmup_lc_hvp",
    "warmup_record",
]

EIG_EPS = 1e-12  # C[u, p] is clamped at this so every path keeps a positive probability

# -- determinism ----------------------------------------------------------------------------


def _same(a: object, b: object) -> bool:
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        return a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b)
    return False


def check_is_deterministic(
    theta_fn: Callable,
    theta_fn_kwargs: Mapping[str, Any],
    synth_fn: Callable,
    synth_fn_kwargs: Mapping[str, Any] | None = None,
) -> bool:
    """Call the encoder and the synth twice each on the same input; True if outputs are equal.

    θ-IS warmup needs both to be deterministic (e.g. encoder in ``eval()`` mode so that
    dropout is off, synth with a fixed seed). Comparison is exact (``torch.equal``). Logs a
    WARNING naming the function that is not deterministic and returns False.

    Args:
        theta_fn: encoder, ``theta_fn(**theta_fn_kwargs) -> (batch, n_theta)``.
        theta_fn_kwargs: one batch of keyword arguments (a dict).
        synth_fn: synth, ``synth_fn(theta, **synth_fn_kwargs) -> (batch, channels, N)``;
            both calls get the θ of the first encoder call.
        synth_fn_kwargs: a dict, or None for no extra arguments.
    """
    check_callable("theta_fn", theta_fn)
    check_callable("synth_fn", synth_fn)
    theta_fn_kwargs = check_kwargs_dict("theta_fn_kwargs", theta_fn_kwargs)
    synth_fn_kwargs = (
        {} if synth_fn_kwargs is None else check_kwargs_dict("synth_fn_kwargs", synth_fn_kwargs)
    )
    ok = True
    with torch.no_grad():
        theta_a = call_theta_fn(theta_fn, theta_fn_kwargs)
        theta_b = call_theta_fn(theta_fn, theta_fn_kwargs)
        if not _same(theta_a, theta_b):
            log.warning(
                "The encoder theta_fn is not deterministic: two calls with the same "
                "theta_fn_kwargs returned different theta. θ-IS warmup needs a deterministic "
                "encoder (e.g. call encoder.eval() to disable dropout)."
            )
            ok = False
        x_a = call_synth_fn(synth_fn, theta_a, synth_fn_kwargs)
        x_b = call_synth_fn(synth_fn, theta_a, synth_fn_kwargs)
        if not _same(x_a, x_b):
            log.warning(
                "The synth synth_fn is not deterministic: two calls with the same theta and "
                "synth_fn_kwargs returned different audio. θ-IS warmup needs a deterministic "
                "synth (e.g. pass a fixed seed in synth_fn_kwargs)."
            )
            ok = False
    return ok


def probs_from_vals(vals: Tensor) -> Tensor:
    """π before the floor from C ``(n_theta, n_paths)``: the mean over θ of normalised rows."""
    if not isinstance(vals, Tensor) or vals.ndim != 2 or vals.numel() == 0:
        raise ValueError("vals must be a non-empty (n_theta, n_paths) tensor")
    c = vals.to(torch.float64).clamp_min(EIG_EPS)
    return (c / c.sum(dim=1, keepdim=True)).mean(dim=0)


def _record(
    loss: RandomPathLoss,
    kwargs_list: list[dict],
    synth_list: list[dict],
    params: list[Tensor],
    n_iter: int,
    target_key: str,
) -> dict[str, Any]:
    record = loss_record(loss)
    record.update(
        n_iter=n_iter,
        n_batches=len(kwargs_list),
        target_key=target_key,
        eig_eps=EIG_EPS,
        data_sha256=sha256([kwargs_list, synth_list]),
        params_sha256=sha256([tuple(p.shape) for p in params] + list(params)),
    )
    return record


def warmup_record(
    loss: RandomPathLoss,
    theta_fn_kwargs: Sequence[Mapping[str, Any]],
    params: Iterable[Tensor],
    synth_fn_kwargs: Sequence[Mapping[str, Any]] | None = None,
    n_iter: int = 20,
    target_key: str = "x",
) -> dict[str, Any]:
    """The configuration record that :func:`warmup_lc_hvp` writes to ``config.json`` for
    these arguments: what determines the values (loss configuration, distance, n_paths,
    n_theta, n_iter, number of batches, target key, SHA-256 fingerprints of the warmup data
    and of the parameter values). Callers can key a cache of warmup directories by it."""
    kwargs_list = check_kwargs_list("theta_fn_kwargs", theta_fn_kwargs, None)
    synth_list = (
        [{} for _ in kwargs_list]
        if synth_fn_kwargs is None
        else check_kwargs_list("synth_fn_kwargs", synth_fn_kwargs, len(kwargs_list))
    )
    n_iter = check_int("n_iter", n_iter, 1)
    return _record(loss, kwargs_list, synth_list, check_params(params), n_iter, target_key)


def warmup_lc_hvp(
    loss: RandomPathLoss,
    theta_fn: Callable,
    synth_fn: Callable,
    theta_fn_kwargs: Sequence[Mapping[str, Any]],
    params: Iterable[Tensor],
    synth_fn_kwargs: Sequence[Mapping[str, Any]] | None = None,
    start_path_idx: int = 0,
    end_path_idx: int | None = None,
    theta_idxs: Iterable[int] | None = None,
    save_dir: str | os.PathLike = "scrapl_warmup",
    n_iter: int = 20,
    target_key: str = "x",
    progress: str = "path",
) -> Tensor | None:
    """θ-IS warmup: compute C[u, p] for paths ``[start_path_idx, end_path_idx)`` and θ dims
    ``theta_idxs``, save them in ``save_dir`` and, once all are present, set π on ``loss``.

    See the module docstring for the definition and the files. Returns π (after the floor,
    as set on the loss) when every (p, u) is present in ``save_dir``, else None.

    Args:
        loss: the SCRAPL loss (its path distance, n_paths, n_theta and sampler are used).
        theta_fn: deterministic encoder, ``theta_fn(**kwargs) -> (batch, n_theta)``.
        synth_fn: deterministic synth, ``synth_fn(theta, **kwargs) -> (batch, channels, N)``.
        theta_fn_kwargs: list of dicts, one per warmup batch; each holds the target audio
            under ``target_key``.
        params: the encoder weights w (tensors that require grad).
        synth_fn_kwargs: list of dicts (one per batch), or None.
        start_path_idx, end_path_idx: the path range of this call (end None = n_paths).
        theta_idxs: the θ dims of this call (None = all).
        save_dir: where the values, the configuration and ``probs.pt`` are kept.
        n_iter: power iterations (>= 1).
        target_key: key of the target audio in each ``theta_fn_kwargs`` dict.
        progress: ``"path"`` (a progress bar per path, the default), ``"total"`` (one bar
            for the whole call, counting power iterations) or ``"none"``.
    """
    n_paths, n_theta = loss.n_paths, loss.n_theta
    theta_fn = check_callable("theta_fn", theta_fn)
    synth_fn = check_callable("synth_fn", synth_fn)
    kwargs_list = check_kwargs_list("theta_fn_kwargs", theta_fn_kwargs, None)
    n_batches = len(kwargs_list)
    synth_list = (
        [{} for _ in range(n_batches)]
        if synth_fn_kwargs is None
        else check_kwargs_list("synth_fn_kwargs", synth_fn_kwargs, n_batches)
    )
    params = check_params(params)
    start, end = check_path_range(start_path_idx, end_path_idx, n_paths)
    idxs = check_theta_idxs(theta_idxs, n_theta)
    save_dir = check_save_dir(save_dir)
    n_iter = check_int("n_iter", n_iter, 1)
    targets = check_targets(kwargs_list, target_key)
    if not isinstance(progress, str) or progress not in PROGRESS:
        raise ValueError(f"progress must be one of {', '.join(PROGRESS)}; got {progress!r}")

    save_dir.mkdir(parents=True, exist_ok=True)
    record = _record(loss, kwargs_list, synth_list, params, n_iter, target_key)
    check_or_write_config(save_dir, record)

    log.info(
        f"Starting warmup_lc_hvp with agg = none for {len(params)} parameter(s) and "
        f"{n_batches} batch(es), {n_iter} iter (multibatch = {n_batches > 1})"
    )
    batches = list(zip(kwargs_list, synth_list, targets, strict=True))
    bar = progress_bar(progress, end - start, n_iter, n_batches)
    try:
        # Tensor hooks also fire for autograd.grad: warmup gradients must not reach (or
        # advance) the P-Adam/P-SAGA state of attached parameters.
        with loss.hooks_suspended(), torch.enable_grad():
            for path_idx in range(start, end):
                todo = [u for u in idxs if not (save_dir / vals_name(path_idx, u)).exists()]
                vals = {}
                if not todo and bar is not None:
                    bar.update(n_iter * n_batches)  # already in save_dir (a resumed warmup)
                if todo:
                    abs_sum, batch_eigs = path_batch_eigenvalues(
                        loss, theta_fn, synth_fn, batches, params, path_idx, todo, n_iter, bar
                    )
                    for k, u in enumerate(todo):
                        value = max(abs_sum[k] / n_batches, EIG_EPS)
                        save_val(save_dir, path_idx, u, value, batch_eigs[k], n_iter)
                        vals[u] = value
                for u in idxs:
                    if u not in vals:
                        vals[u] = load_val(save_dir / vals_name(path_idx, u), path_idx, u)
                curr_vals = torch.tensor([vals[u] for u in idxs], dtype=torch.float32)
                log.info(f"path_idx = {path_idx}, curr_vals = {curr_vals}")
    finally:
        if bar is not None:
            bar.close()

    missing = list_missing(save_dir, n_paths, n_theta)
    if missing:
        log.info(
            f"Warmup values in {save_dir} are not complete yet ({len(missing)} of "
            f"{n_paths * n_theta} (path, θ) pairs missing); probabilities not set"
        )
        return None
    return _merge(loss, save_dir, allow_missing=False)


def _merge(loss: RandomPathLoss, save_dir: FilePath, allow_missing: bool) -> Tensor:
    n_paths, n_theta = loss.n_paths, loss.n_theta
    missing = set(list_missing(save_dir, n_paths, n_theta))
    if len(missing) == n_paths * n_theta:
        raise ValueError(
            f"{str(save_dir)!r} holds no warmup values (vals_{{p}}_{{u}}.pt) for this loss's "
            f"{n_paths} paths and {n_theta} θ dims; run warmup_lc_hvp first"
        )
    vals = torch.full((n_theta, n_paths), math.nan, dtype=torch.float64)
    for p in range(n_paths):
        for u in range(n_theta):
            if (p, u) not in missing:
                vals[u, p] = load_val(save_dir / vals_name(p, u), p, u)
    if missing:
        if not allow_missing:  # files removed by another process during the call
            raise ValueError(f"{str(save_dir)!r} lost warmup values during the call")
        shown = sorted(missing)
        listing = ", ".join(f"(p={p}, u={u})" for p, u in shown[:20])
        more = f" and {len(shown) - 20} more" if len(shown) > 20 else ""
        empty = [u for u in range(n_theta) if torch.isnan(vals[u]).all()]
        log.warning(
            f"Warmup in {save_dir} is incomplete: {len(shown)} of {n_paths * n_theta} "
            f"(path, θ) values are missing: {listing}{more}. Each missing value is replaced "
            f"by the mean of the present values of its θ dim"
            + (f"; θ dims {empty} have no values and are left out of π" if empty else "")
        )
        keep = [u for u in range(n_theta) if u not in empty]
        vals = vals[keep]
        means = torch.nanmean(vals, dim=1, keepdim=True)
        vals = torch.where(torch.isnan(vals), means.expand_as(vals), vals)
    probs = probs_from_vals(vals)
    loss.sampler.set_probs(probs)
    if not missing:
        probs_path = save_dir / PROBS_NAME
        log.info(f"Saving warmup SCRAPL sampling probabilities to {save_dir}/{PROBS_NAME}")
        atomic_torch_save(probs.clone(), probs_path)
    return loss.probs.clone()


def load_probs_from_warmup_dir(loss: RandomPathLoss, save_dir: str | os.PathLike) -> Tensor:
    """Merge the per-(path, θ) values of ``save_dir`` into π, set it on ``loss``, return it.

    Missing values (an incomplete or partly failed warmup) are logged as a WARNING and each
    is replaced by the mean of the present values of the same θ dim; a θ dim with no value
    at all is left out of the mean over θ. A directory with no value at all raises
    ValueError. ``probs.pt`` is written only when nothing is missing. The directory's
    configuration must match ``loss`` (loss configuration, distance, n_paths, n_theta).
    """
    save_dir = check_save_dir(save_dir)
    if not save_dir.is_dir():
        raise ValueError(f"save_dir {str(save_dir)!r} is not a directory")
    config = read_config(save_dir)
    if config is None:
        raise ValueError(
            f"{str(save_dir)!r} has no {CONFIG_NAME}: it is not a θ-IS warmup directory "
            "written by warmup_lc_hvp"
        )
    compare_config(save_dir, config, loss_record(loss))
    return _merge(loss, save_dir, allow_missing=True)
