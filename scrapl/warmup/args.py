"""Argument checks and call wrappers of θ-IS warmup (:mod:`scrapl.warmup.theta_is`).

The warmup functions take user callables (encoder ``theta_fn``, synth ``synth_fn``), their
keyword arguments, the encoder weights and a save directory. This module validates them
before any work starts, and calls the user's functions with checks of what they return, so
that a mistake is reported with the argument's name instead of failing deep in autograd.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path as FilePath
from typing import TYPE_CHECKING

from torch import Tensor

from scrapl.validation import check_int

if TYPE_CHECKING:
    from scrapl.losses.random_path import RandomPathLoss


def check_callable(name: str, fn: object) -> Callable:
    if not callable(fn):
        raise TypeError(f"{name} must be a callable, got {type(fn).__name__}")
    return fn


def check_kwargs_dict(name: str, kwargs: object) -> dict:
    if not isinstance(kwargs, Mapping):
        raise TypeError(f"{name} must be a dict of keyword arguments, got {type(kwargs).__name__}")
    for key in kwargs:
        if not isinstance(key, str):
            raise TypeError(f"{name} keys must be str (argument names), got {key!r}")
    return dict(kwargs)


def check_kwargs_list(name: str, value: object, n: int | None) -> list[dict]:
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
    return [check_kwargs_dict(f"{name}[{i}]", kw) for i, kw in enumerate(value)]


def check_params(params: object) -> list[Tensor]:
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


def check_theta_idxs(theta_idxs: object, n_theta: int) -> list[int]:
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


def check_path_range(start_path_idx: object, end_path_idx: object, n_paths: int) -> tuple[int, int]:
    start = check_int("start_path_idx", start_path_idx, 0)
    if start >= n_paths:
        raise ValueError(f"start_path_idx must be an int in [0, n_paths={n_paths}), got {start}")
    end = n_paths if end_path_idx is None else check_int("end_path_idx", end_path_idx, 0)
    if not start < end <= n_paths:
        raise ValueError(
            f"end_path_idx must be None or an int in (start_path_idx={start}, "
            f"n_paths={n_paths}], got {end_path_idx}"
        )
    return start, end


def check_save_dir(save_dir: object) -> FilePath:
    if not isinstance(save_dir, (str, os.PathLike)):
        raise TypeError(f"save_dir must be a str or os.PathLike, got {type(save_dir).__name__}")
    if str(save_dir) == "":
        raise ValueError("save_dir must be a non-empty path")
    return FilePath(save_dir)


def check_targets(kwargs_list: list[dict], target_key: object) -> list[Tensor]:
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
    return targets


def call_theta_fn(theta_fn: Callable, kwargs: dict, name: str = "theta_fn") -> Tensor:
    theta = theta_fn(**kwargs)
    if not isinstance(theta, Tensor):
        raise TypeError(
            f"{name} must return a torch.Tensor of shape (batch, n_theta), "
            f"got {type(theta).__name__}"
        )
    return theta


def call_synth_fn(synth_fn: Callable, theta: Tensor, kwargs: dict) -> Tensor:
    x_hat = synth_fn(theta, **kwargs)
    if not isinstance(x_hat, Tensor):
        raise TypeError(
            "synth_fn must return a torch.Tensor of shape (batch, channels, n_samples), "
            f"got {type(x_hat).__name__}"
        )
    return x_hat


def forward_batch(
    loss: RandomPathLoss,
    theta_fn: Callable,
    synth_fn: Callable,
    kwargs: dict,
    synth_kwargs: dict,
    target: Tensor,
    batch: int,
) -> tuple[Tensor, Tensor, Tensor]:
    n_theta = loss.n_theta
    theta = call_theta_fn(theta_fn, kwargs)
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
    x_hat = call_synth_fn(synth_fn, theta, synth_kwargs)
    try:
        x_hat, target, _ = loss.prepare(x_hat, target)
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
