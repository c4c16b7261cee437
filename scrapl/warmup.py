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
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import numbers
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path as FilePath
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from scrapl.distance import path_distance
from scrapl.validation import check_int, check_signals

if TYPE_CHECKING:
    from scrapl.scrapl_loss import SCRAPLLoss

# Messages belong to the loss's logger, as in the seed README's console output.
log = logging.getLogger("scrapl.scrapl_loss")

__all__ = [
    "EIG_EPS",
    "check_is_deterministic",
    "load_probs_from_warmup_dir",
    "probs_from_vals",
    "warmup_lc_hvp",
]

EIG_EPS = 1e-12  # C[u, p] is clamped at this so every path keeps a positive probability
SEED_STRIDE = 100003  # generator seed of (path p, θ dim u) is p * SEED_STRIDE + u
FORMAT = "scrapl-warmup-lc-hvp/1"
CONFIG_NAME = "config.json"
PROBS_NAME = "probs.pt"
_VALS_RE = re.compile(r"^vals_(\d+)_(\d+)\.pt$")


def vals_name(path_idx: int, theta_idx: int) -> str:
    """File name of the value of path ``path_idx`` and θ dim ``theta_idx``."""
    return f"vals_{path_idx}_{theta_idx}.pt"


# -- argument checks ----------------------------------------------------------------------


def _check_callable(name: str, fn: object) -> Callable:
    if not callable(fn):
        raise TypeError(f"{name} must be a callable, got {type(fn).__name__}")
    return fn


def _check_kwargs_dict(name: str, kwargs: object) -> dict:
    if not isinstance(kwargs, Mapping):
        raise TypeError(f"{name} must be a dict of keyword arguments, got {type(kwargs).__name__}")
    for key in kwargs:
        if not isinstance(key, str):
            raise TypeError(f"{name} keys must be str (argument names), got {key!r}")
    return dict(kwargs)


def _check_kwargs_list(name: str, value: object, n: int | None) -> list[dict]:
    if isinstance(value, Mapping) or not isinstance(value, (list, tuple)):
        raise TypeError(
            f"{name} must be a list of dicts (one dict of keyword arguments per batch), "
            f"got {type(value).__name__}"
        )
    if n is None and not value:
        raise ValueError(f"{name} must hold at least one batch (one dict), got an empty list")
    if n is not None and len(value) != n:
        raise ValueError(
            f"{name} must hold one dict per batch of theta_fn_kwargs ({n}), got {len(value)}"
        )
    return [_check_kwargs_dict(f"{name}[{i}]", kw) for i, kw in enumerate(value)]


def _check_params(params: object) -> list[Tensor]:
    if isinstance(params, Tensor) or not isinstance(params, Iterable):
        raise TypeError(
            f"params must be a list of tensors that require grad (e.g. "
            f"list(encoder.parameters())), got {type(params).__name__}"
        )
    params = list(params)
    if not params:
        raise ValueError("params must hold at least one tensor that requires grad, got []")
    seen: set[int] = set()
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"params[{i}] must be a torch.Tensor, got {type(p).__name__}")
        if not p.requires_grad:
            raise ValueError(f"params[{i}] must require grad (requires_grad=True)")
        if not p.is_floating_point():
            raise TypeError(f"params[{i}] must be a floating-point tensor, got {p.dtype}")
        if id(p) in seen:
            raise ValueError(f"params[{i}] appears twice in params; pass each tensor once")
        seen.add(id(p))
    devices = {p.device for p in params}
    if len(devices) > 1:
        raise ValueError(f"params must all be on one device, got {sorted(map(str, devices))}")
    return params


def _check_theta_idxs(theta_idxs: object, n_theta: int) -> list[int]:
    if theta_idxs is None:
        return list(range(n_theta))
    if isinstance(theta_idxs, (str, bytes, Tensor)) or not isinstance(theta_idxs, Iterable):
        raise TypeError(
            f"theta_idxs must be None or a list of distinct ints in [0, {n_theta}), "
            f"got {type(theta_idxs).__name__}"
        )
    idxs = list(theta_idxs)
    for u in idxs:
        if isinstance(u, bool) or not isinstance(u, numbers.Integral):
            raise TypeError(
                f"theta_idxs must be None or a list of distinct ints in [0, {n_theta}), "
                f"got an element {u!r}"
            )
        if not 0 <= u < n_theta:
            raise ValueError(
                f"theta_idxs must be None or a list of distinct ints in [0, n_theta={n_theta}), "
                f"got {u}"
            )
    if not idxs:
        raise ValueError(f"theta_idxs must be None or a non-empty list of ints in [0, {n_theta})")
    if len(set(idxs)) != len(idxs):
        raise ValueError(f"theta_idxs must not repeat an index, got {idxs}")
    return sorted(int(u) for u in idxs)


def _check_save_dir(save_dir: object) -> FilePath:
    if not isinstance(save_dir, (str, os.PathLike)):
        raise TypeError(f"save_dir must be a str or os.PathLike, got {type(save_dir).__name__}")
    if str(save_dir) == "":
        raise ValueError("save_dir must be a non-empty path")
    return FilePath(save_dir)


def _theta(theta_fn: Callable, kwargs: dict, name: str = "theta_fn") -> Tensor:
    theta = theta_fn(**kwargs)
    if not isinstance(theta, Tensor):
        raise TypeError(
            f"{name} must return a torch.Tensor of shape (batch, n_theta), "
            f"got {type(theta).__name__}"
        )
    return theta


def _synth(synth_fn: Callable, theta: Tensor, kwargs: dict) -> Tensor:
    x_hat = synth_fn(theta, **kwargs)
    if not isinstance(x_hat, Tensor):
        raise TypeError(
            "synth_fn must return a torch.Tensor of shape (batch, channels, n_samples), "
            f"got {type(x_hat).__name__}"
        )
    return x_hat


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
    _check_callable("theta_fn", theta_fn)
    _check_callable("synth_fn", synth_fn)
    theta_fn_kwargs = _check_kwargs_dict("theta_fn_kwargs", theta_fn_kwargs)
    synth_fn_kwargs = (
        {} if synth_fn_kwargs is None else _check_kwargs_dict("synth_fn_kwargs", synth_fn_kwargs)
    )
    ok = True
    with torch.no_grad():
        theta_a = _theta(theta_fn, theta_fn_kwargs)
        theta_b = _theta(theta_fn, theta_fn_kwargs)
        if not _same(theta_a, theta_b):
            log.warning(
                "The encoder theta_fn is not deterministic: two calls with the same "
                "theta_fn_kwargs returned different theta. θ-IS warmup needs a deterministic "
                "encoder (e.g. call encoder.eval() to disable dropout)."
            )
            ok = False
        x_a = _synth(synth_fn, theta_a, synth_fn_kwargs)
        x_b = _synth(synth_fn, theta_a, synth_fn_kwargs)
        if not _same(x_a, x_b):
            log.warning(
                "The synth synth_fn is not deterministic: two calls with the same theta and "
                "synth_fn_kwargs returned different audio. θ-IS warmup needs a deterministic "
                "synth (e.g. pass a fixed seed in synth_fn_kwargs)."
            )
            ok = False
    return ok


# -- configuration record -------------------------------------------------------------------


def _fingerprint(obj: object, h: Any) -> None:
    """Feed a structure of tensors, arrays, containers and primitives into hash ``h``."""
    if isinstance(obj, Tensor):
        t = obj.detach().to("cpu").contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        if t.is_complex():
            t = torch.view_as_real(t)
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    elif isinstance(obj, np.ndarray):
        h.update(f"A{obj.dtype}{obj.shape}".encode())
        h.update(np.ascontiguousarray(obj).tobytes())
    elif isinstance(obj, Mapping):
        h.update(b"{")
        for key in sorted(obj, key=repr):
            h.update(repr(key).encode())
            _fingerprint(obj[key], h)
        h.update(b"}")
    elif isinstance(obj, (list, tuple)):
        h.update(b"[")
        for item in obj:
            _fingerprint(item, h)
        h.update(b"]")
    elif obj is None or isinstance(obj, (bool, int, float, str, bytes)):
        h.update(f"P{obj!r}".encode())
    else:  # functions, modules, …: their repr may hold memory addresses
        h.update(f"O{type(obj).__qualname__}".encode())


def _sha256(obj: object) -> str:
    h = hashlib.sha256()
    _fingerprint(obj, h)
    return h.hexdigest()


def _loss_record(loss: SCRAPLLoss) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "loss_config": repr(loss.config),
        "p": float(loss.p),
        "use_rho_log1p": bool(loss.use_rho_log1p),
        "log1p_eps": float(loss.log1p_eps),
        "n_paths": int(loss.n_paths),
        "n_theta": int(loss.n_theta),
    }


def _atomic_write(path: FilePath, write: Callable[[Any], None], binary: bool) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if binary else "w") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _atomic_torch_save(obj: object, path: FilePath) -> None:
    _atomic_write(path, lambda f: torch.save(obj, f), binary=True)


def _read_config(save_dir: FilePath) -> dict | None:
    path = save_dir / CONFIG_NAME
    if not path.exists():
        return None
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read the warmup configuration {str(path)!r}: {e}") from e
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(
            f"{str(path)!r} is not a SCRAPL θ-IS warmup configuration (expected format "
            f"{FORMAT!r}); use another save_dir"
        )
    return config


def _check_or_write_config(save_dir: FilePath, record: dict[str, Any]) -> None:
    config = _read_config(save_dir)
    if config is None:
        text = json.dumps(record, indent=2, sort_keys=True) + "\n"
        _atomic_write(save_dir / CONFIG_NAME, lambda f: f.write(text), binary=False)
        # Re-read: another process may have written its own configuration at the same time.
        config = _read_config(save_dir)
    _compare_config(save_dir, config, record)


def _compare_config(save_dir: FilePath, config: dict, record: dict[str, Any]) -> None:
    diffs = [
        f"{key}: saved {config.get(key)!r}, now {value!r}"
        for key, value in record.items()
        if config.get(key) != value
    ]
    if diffs:
        raise ValueError(
            f"warmup configuration mismatch in {str(save_dir)!r} ({'; '.join(diffs)}): the "
            "saved values were computed with another configuration. Use the same loss, data, "
            "parameters, n_iter and target_key, or another save_dir."
        )


# -- per-(p, u) values ------------------------------------------------------------------------


def _load_val(path: FilePath, path_idx: int, theta_idx: int) -> float:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch.load raises many types for corrupt or foreign files
        raise ValueError(f"cannot read warmup value file {str(path)!r}: {e}") from e
    keys = ("path_idx", "theta_idx", "value")
    value = obj.get("value") if isinstance(obj, dict) else None
    if (
        not isinstance(obj, dict)
        or any(k not in obj for k in keys)
        or obj["path_idx"] != path_idx
        or obj["theta_idx"] != theta_idx
        or isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(
            f"{str(path)!r} is not a θ-IS warmup value of path {path_idx} and θ dim "
            f"{theta_idx} (expected a dict with path_idx={path_idx}, theta_idx={theta_idx} and "
            "a finite value >= 0); delete it to recompute it"
        )
    return float(value)


def probs_from_vals(vals: Tensor) -> Tensor:
    """π before the floor from C ``(n_theta, n_paths)``: the mean over θ of normalised rows."""
    if not isinstance(vals, Tensor) or vals.ndim != 2 or vals.numel() == 0:
        raise ValueError("vals must be a non-empty (n_theta, n_paths) tensor")
    c = vals.to(torch.float64).clamp_min(EIG_EPS)
    return (c / c.sum(dim=1, keepdim=True)).mean(dim=0)


def _path_eigenvalues(
    loss: SCRAPLLoss,
    theta: Tensor,
    x_hat: Tensor,
    target: Tensor,
    params: list[Tensor],
    path_idx: int,
    theta_idxs: list[int],
    starts: list[list[Tensor]],
    n_iter: int,
    bar: tqdm,
) -> list[float]:
    """Power-iteration eigenvalue (signed) of A_{u,p} for each u of ``theta_idxs``, one batch."""
    s_hat = loss.jtfs(x_hat, path_idx)
    with torch.no_grad():
        s_target = loss.jtfs(target, path_idx)
    loss_p = path_distance(s_hat, s_target, loss.p, loss.use_rho_log1p, loss.log1p_eps)
    (s,) = torch.autograd.grad(loss_p, theta, create_graph=True)
    # g_u = Σ_b s_{b,u}(w) ∇_w θ_{b,u}(w), kept differentiable in w (through s and θ).
    grads: list[list[Tensor | None]] = []
    for u in theta_idxs:
        g = torch.autograd.grad(
            theta[:, u], params, grad_outputs=s[:, u], create_graph=True, allow_unused=True
        )
        grads.append([gi if gi is not None and gi.requires_grad else None for gi in g])
    vecs = [[v / _norm(start) for v in start] for start in starts]
    eigs = [0.0] * len(theta_idxs)
    done = [False] * len(theta_idxs)
    for _ in range(n_iter):
        for k, g in enumerate(grads):
            if done[k]:
                continue
            av = _hvp(g, vecs[k], params)
            dot = torch.stack(
                [(v.double() * a.double()).sum() for v, a in zip(vecs[k], av, strict=True)]
            )
            sq = torch.stack([a.double().square().sum() for a in av])
            eigs[k], norm = float(dot.sum()), math.sqrt(float(sq.sum()))  # one sync
            if norm == 0.0 or not math.isfinite(norm):
                if not math.isfinite(norm):
                    raise FloatingPointError(
                        f"non-finite Hessian-vector product for path {path_idx}, θ dim "
                        f"{theta_idxs[k]}: check the encoder, synth and inputs for NaN/inf"
                    )
                done[k] = True  # v is in the null space: the eigenvalue estimate is 0
                eigs[k] = 0.0
                continue
            vecs[k] = [a / norm for a in av]
        bar.update(1)
    return eigs


def _norm(vs: list[Tensor]) -> float:
    return math.sqrt(float(torch.stack([v.double().square().sum() for v in vs]).sum()))


def _hvp(g: list[Tensor | None], v: list[Tensor], params: list[Tensor]) -> list[Tensor]:
    """``∇_w ⟨g(w), v⟩`` (= Aᵀ v); parameters g does not depend on give zeros."""
    pairs = [(gi, vi) for gi, vi in zip(g, v, strict=True) if gi is not None]
    if not pairs:
        return [torch.zeros_like(p) for p in params]
    out = torch.autograd.grad(
        [gi for gi, _ in pairs],
        params,
        grad_outputs=[vi for _, vi in pairs],
        retain_graph=True,
        allow_unused=True,
    )
    return [
        torch.zeros_like(p) if o is None else o.detach() for o, p in zip(out, params, strict=True)
    ]


@contextmanager
def _hooks_suspended(loss: SCRAPLLoss):
    """Detach the P-Adam/P-SAGA gradient hooks of attached parameters during warmup.

    Tensor hooks also fire for ``torch.autograd.grad``: warmup gradients must not reach (or
    advance) the per-path optimizer state.
    """
    handles = list(getattr(loss, "_hooks", []))
    if not handles:
        yield
        return
    for h in handles:
        h.remove()
    try:
        yield
    finally:
        loss._hooks = [p.register_hook(loss._hook(i, p)) for i, p in enumerate(loss._params)]


def warmup_lc_hvp(
    loss: SCRAPLLoss,
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
    """
    n_paths, n_theta = loss.n_paths, loss.n_theta
    theta_fn = _check_callable("theta_fn", theta_fn)
    synth_fn = _check_callable("synth_fn", synth_fn)
    kwargs_list = _check_kwargs_list("theta_fn_kwargs", theta_fn_kwargs, None)
    n_batches = len(kwargs_list)
    synth_list = (
        [{} for _ in range(n_batches)]
        if synth_fn_kwargs is None
        else _check_kwargs_list("synth_fn_kwargs", synth_fn_kwargs, n_batches)
    )
    params = _check_params(params)
    start = check_int("start_path_idx", start_path_idx, 0)
    if start >= n_paths:
        raise ValueError(f"start_path_idx must be an int in [0, n_paths={n_paths}), got {start}")
    end = n_paths if end_path_idx is None else check_int("end_path_idx", end_path_idx, 0)
    if not start < end <= n_paths:
        raise ValueError(
            f"end_path_idx must be None or an int in (start_path_idx={start}, "
            f"n_paths={n_paths}], got {end_path_idx}"
        )
    idxs = _check_theta_idxs(theta_idxs, n_theta)
    save_dir = _check_save_dir(save_dir)
    n_iter = check_int("n_iter", n_iter, 1)
    if not isinstance(target_key, str):
        raise TypeError(f"target_key must be a str, got {type(target_key).__name__}")
    targets = []
    for i, kw in enumerate(kwargs_list):
        if target_key not in kw:
            raise ValueError(
                f"theta_fn_kwargs[{i}] must hold the target audio under target_key="
                f"{target_key!r}; its keys are {sorted(kw)}"
            )
        if not isinstance(kw[target_key], Tensor):
            raise TypeError(
                f"theta_fn_kwargs[{i}][{target_key!r}] (the target audio) must be a "
                f"torch.Tensor, got {type(kw[target_key]).__name__}"
            )
        targets.append(kw[target_key].detach())

    save_dir.mkdir(parents=True, exist_ok=True)
    record = _loss_record(loss)
    record.update(
        n_iter=n_iter,
        n_batches=n_batches,
        target_key=target_key,
        eig_eps=EIG_EPS,
        data_sha256=_sha256([kwargs_list, synth_list]),
        params_sha256=_sha256([tuple(p.shape) for p in params] + list(params)),
    )
    _check_or_write_config(save_dir, record)

    log.info(
        f"Starting warmup_lc_hvp with agg = none for {len(params)} parameter(s) and "
        f"{n_batches} batch(es), {n_iter} iter (multibatch = {n_batches > 1})"
    )
    shapes = [p.shape for p in params]
    sizes = [p.numel() for p in params]
    with _hooks_suspended(loss), torch.enable_grad():
        for path_idx in range(start, end):
            todo = [u for u in idxs if not (save_dir / vals_name(path_idx, u)).exists()]
            vals = {}
            if todo:
                gens = {u: torch.Generator().manual_seed(path_idx * SEED_STRIDE + u) for u in todo}
                abs_sum = [0.0] * len(todo)
                batch_eigs: list[list[float]] = [[] for _ in todo]
                with tqdm(total=n_iter * n_batches, desc=f"path {path_idx}") as bar:
                    for b in range(n_batches):
                        theta, x_hat, target = _forward(
                            loss, theta_fn, synth_fn, kwargs_list[b], synth_list[b], targets[b], b
                        )
                        starts = []
                        for u in todo:
                            flat = torch.randn(sum(sizes), generator=gens[u])
                            parts = flat.split(sizes)
                            starts.append(
                                [
                                    t.view(s).to(device=p.device, dtype=p.dtype)
                                    for t, s, p in zip(parts, shapes, params, strict=True)
                                ]
                            )
                        eigs = _path_eigenvalues(
                            loss, theta, x_hat, target, params, path_idx, todo, starts, n_iter, bar
                        )
                        del theta, x_hat
                        for k, e in enumerate(eigs):
                            abs_sum[k] += abs(e)
                            batch_eigs[k].append(e)
                for k, u in enumerate(todo):
                    value = max(abs_sum[k] / n_batches, EIG_EPS)
                    obj = {
                        "path_idx": path_idx,
                        "theta_idx": u,
                        "value": value,
                        "batch_eigs": batch_eigs[k],
                        "n_iter": n_iter,
                    }
                    _atomic_torch_save(obj, save_dir / vals_name(path_idx, u))
                    vals[u] = value
            for u in idxs:
                if u not in vals:
                    vals[u] = _load_val(save_dir / vals_name(path_idx, u), path_idx, u)
            curr_vals = torch.tensor([vals[u] for u in idxs], dtype=torch.float32)
            log.info(f"path_idx = {path_idx}, curr_vals = {curr_vals}")

    missing = _missing(save_dir, n_paths, n_theta)
    if missing:
        log.info(
            f"Warmup values in {save_dir} are not complete yet ({len(missing)} of "
            f"{n_paths * n_theta} (path, θ) pairs missing); probabilities not set"
        )
        return None
    return _merge(loss, save_dir, allow_missing=False)


def _forward(
    loss: SCRAPLLoss,
    theta_fn: Callable,
    synth_fn: Callable,
    kwargs: dict,
    synth_kwargs: dict,
    target: Tensor,
    batch: int,
) -> tuple[Tensor, Tensor, Tensor]:
    n_theta = loss.n_theta
    theta = _theta(theta_fn, kwargs)
    if theta.ndim != 2 or theta.shape[1] != n_theta:
        raise ValueError(
            f"theta_fn must return a tensor of shape (batch, n_theta={n_theta}) (the loss's "
            f"n_theta), got shape {tuple(theta.shape)} for theta_fn_kwargs[{batch}]"
        )
    if not theta.requires_grad:
        raise ValueError(
            "theta_fn output does not depend on params (it does not require grad): params "
            "must be the weights of the encoder that theta_fn runs"
        )
    x_hat = _synth(synth_fn, theta, synth_kwargs)
    try:
        x_hat, target = check_signals(x_hat, target, loss.config.shape, loss.jtfs.psi_fr)
    except (TypeError, ValueError) as e:
        raise type(e)(
            f"warmup batch {batch}: synth_fn output (x) and target audio (x_target, from "
            f"theta_fn_kwargs[{batch}]): {e}"
        ) from e
    if not x_hat.requires_grad:
        raise ValueError(
            "synth_fn output does not depend on theta (it does not require grad): the synth "
            "must be differentiable in theta"
        )
    return theta, x_hat, target


def _missing(save_dir: FilePath, n_paths: int, n_theta: int) -> list[tuple[int, int]]:
    present = set()
    for name in os.listdir(save_dir):
        m = _VALS_RE.match(name)
        if m:
            present.add((int(m.group(1)), int(m.group(2))))
    return [(p, u) for p in range(n_paths) for u in range(n_theta) if (p, u) not in present]


def _merge(loss: SCRAPLLoss, save_dir: FilePath, allow_missing: bool) -> Tensor:
    n_paths, n_theta = loss.n_paths, loss.n_theta
    missing = set(_missing(save_dir, n_paths, n_theta))
    if len(missing) == n_paths * n_theta:
        raise ValueError(
            f"{str(save_dir)!r} holds no warmup values (vals_{{p}}_{{u}}.pt) for this loss's "
            f"{n_paths} paths and {n_theta} θ dims; run warmup_lc_hvp first"
        )
    vals = torch.full((n_theta, n_paths), math.nan, dtype=torch.float64)
    for p in range(n_paths):
        for u in range(n_theta):
            if (p, u) not in missing:
                vals[u, p] = _load_val(save_dir / vals_name(p, u), p, u)
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
        _atomic_torch_save(probs.clone(), probs_path)
    return loss.probs.clone()


def load_probs_from_warmup_dir(loss: SCRAPLLoss, save_dir: str | os.PathLike) -> Tensor:
    """Merge the per-(path, θ) values of ``save_dir`` into π, set it on ``loss``, return it.

    Missing values (an incomplete or partly failed warmup) are logged as a WARNING and each
    is replaced by the mean of the present values of the same θ dim; a θ dim with no value
    at all is left out of the mean over θ. A directory with no value at all raises
    ValueError. ``probs.pt`` is written only when nothing is missing. The directory's
    configuration must match ``loss`` (loss configuration, distance, n_paths, n_theta).
    """
    save_dir = _check_save_dir(save_dir)
    if not save_dir.is_dir():
        raise ValueError(f"save_dir {str(save_dir)!r} is not a directory")
    config = _read_config(save_dir)
    if config is None:
        raise ValueError(
            f"{str(save_dir)!r} has no {CONFIG_NAME}: it is not a θ-IS warmup directory "
            "written by warmup_lc_hvp"
        )
    _compare_config(save_dir, config, _loss_record(loss))
    return _merge(loss, save_dir, allow_missing=True)
