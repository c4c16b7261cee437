"""θ-importance-sampling (θ-IS) warmup of the sound-matching experiments.

SCRAPL (Mitcheltree et al., ICLR 2026, §3) draws one scattering path per training step from a
categorical distribution π. θ-IS sets π once, before training, from the curvature that each
path induces on the encoder's weights through every synth parameter θ_u. The library does
the computation (:meth:`scrapl.SCRAPLLoss.warmup_lc_hvp`, defined in :mod:`scrapl.warmup`);
this module is the experiment-side glue: it picks warmup examples from the training set,
renders their target audio exactly as the training step does, and runs the warmup with the
encoder and synth made deterministic.

The training step renders the target ``x = synth(theta, seed)``, predicts
``θ̂ = encoder(x)`` and renders the reconstruction ``x̂ = synth(θ̂, seed_hat)``; the warmup
differentiates the same chain, with ``x`` as both the encoder's input and the loss's target.

Resuming: the library writes one file per (path, θ dim) into ``save_dir`` (atomically) and
skips the pairs whose file already exists, so a killed warmup restarted with the same
``save_dir`` only computes what is missing, and a complete directory costs no
Hessian-vector product at all (only the rendering of the warmup batches and the
determinism check). The directory records SHA-256 fingerprints of the warmup data and of the
encoder weights: a restart must use the same examples, seeds *and encoder initialisation*
(seed the run, e.g. ``pl.seed_everything``), otherwise the library refuses the directory
(ValueError "warmup configuration mismatch") rather than mixing values.

No Lightning here: :class:`experiments.callbacks.theta_is.ThetaIS` calls :func:`run_theta_is`
from a training run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset, default_collate

from scrapl.validation import check_int

__all__ = ["run_theta_is", "warmup_batches", "warmup_indices"]

log = logging.getLogger(__name__)

_ITEM_KEYS = ("theta", "seed", "seed_hat")


def warmup_indices(n_items: int, n_examples: int) -> list[int]:
    """``n_examples`` distinct indices spread evenly over ``[0, n_items)``, increasing.

    Index ``i`` is ``round(i * (n_items - 1) / (n_examples - 1))`` (half rounded up, in exact
    integer arithmetic, so the result does not depend on float rounding); the first and last
    items are always included, and a single example is item 0. The spacing is at least 1, so
    the indices are unique. Spreading (rather than taking the first items) matters because
    datasets such as :class:`experiments.data.theta_grid.ThetaGridDataset` are ordered by θ:
    the first items would all share nearly the same θ.

    Raises:
        ValueError: ``n_items < 1``, ``n_examples < 1`` or ``n_examples > n_items``.
    """
    n_items = check_int("n_items", n_items, 1)
    n_examples = check_int("n_examples", n_examples, 1)
    if n_examples > n_items:
        raise ValueError(
            f"n_examples must be <= n_items={n_items} (the indices are distinct), got {n_examples}"
        )
    if n_examples == 1:
        return [0]
    span, steps = n_items - 1, n_examples - 1
    # floor(i * span / steps + 1/2) without floats.
    return [(2 * i * span + steps) // (2 * steps) for i in range(n_examples)]


def _check_dataset(dataset: object) -> int:
    # Not isinstance(Dataset): an IterableDataset is one but cannot be indexed.
    if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
        raise TypeError(
            "dataset must be a map-style dataset (with __len__ and __getitem__), "
            f"got {type(dataset).__name__}"
        )
    return len(dataset)  # type: ignore[arg-type]


def _check_item(item: object, index: int) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise TypeError(
            f"dataset[{index}] must be a dict with keys {list(_ITEM_KEYS)}, "
            f"got {type(item).__name__}"
        )
    missing = [k for k in _ITEM_KEYS if k not in item]
    if missing:
        raise ValueError(
            f"dataset[{index}] must hold the keys {list(_ITEM_KEYS)} (θ, target seed, "
            f"reconstruction seed), missing {missing}; its keys are {sorted(item)}"
        )
    return item


def warmup_batches(
    dataset: Dataset,
    synth: nn.Module,
    n_examples: int,
    batch_size: int,
    device: torch.device | str | None = None,
) -> tuple[list[dict[str, Tensor]], list[dict[str, Tensor]]]:
    """The warmup batches: keyword arguments of the encoder and of the synth, one dict each.

    The examples are :func:`warmup_indices` ``(len(dataset), n_examples)``, in that order,
    grouped into batches of ``batch_size`` (the last one may be smaller). Each batch is
    collated like a dataloader batch (``theta (B, n_theta)``, ``seed`` and ``seed_hat``
    ``(B,)`` int64) and rendered as in the training step.

    Args:
        dataset: map-style dataset whose items are dicts with ``theta`` ``(n_theta,)``,
            ``seed`` and ``seed_hat`` (int64 scalars), e.g. a ``ThetaGridDataset``.
        synth: ``synth(theta, seed) -> (B, 1, N)``, deterministic given the seed; call it in
            the mode the warmup uses (:func:`run_theta_is` puts it in eval mode first).
        n_examples: number of warmup examples (``1 <= n_examples <= len(dataset)``).
        batch_size: examples per batch (>= 1).
        device: where θ, the seeds and the audio go (the encoder's device); None keeps the
            dataset's tensors where they are.

    Returns:
        ``(theta_fn_kwargs, synth_fn_kwargs)``: ``[{"x": synth(theta, seed)}, ...]`` (target
        audio, rendered without gradient and detached) and ``[{"seed": seed_hat}, ...]`` (the
        reconstruction seeds), one dict per batch, as
        :meth:`scrapl.SCRAPLLoss.warmup_lc_hvp` takes them.
    """
    n_items = _check_dataset(dataset)
    if not callable(synth):
        raise TypeError(f"synth must be callable (a synth module), got {type(synth).__name__}")
    n_examples = check_int("n_examples", n_examples, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    if n_examples > n_items:
        raise ValueError(
            f"n_examples must be <= len(dataset)={n_items} (distinct warmup examples), "
            f"got {n_examples}"
        )
    idxs = warmup_indices(n_items, n_examples)
    theta_fn_kwargs: list[dict[str, Tensor]] = []
    synth_fn_kwargs: list[dict[str, Tensor]] = []
    for start in range(0, n_examples, batch_size):
        chunk = idxs[start : start + batch_size]
        items = [
            {k: _check_item(dataset[i], i)[k] for k in _ITEM_KEYS}  # drop unused keys
            for i in chunk
        ]
        batch = default_collate(items)
        if device is not None:
            batch = {k: v.to(device) for k, v in batch.items()}
        with torch.no_grad():
            x = synth(batch["theta"], batch["seed"])
        if not isinstance(x, Tensor):
            raise TypeError(f"synth must return a torch.Tensor, got {type(x).__name__}")
        theta_fn_kwargs.append({"x": x.detach()})
        synth_fn_kwargs.append({"seed": batch["seed_hat"]})
    return theta_fn_kwargs, synth_fn_kwargs


@contextmanager
def _eval_mode(*modules: nn.Module) -> Iterator[None]:
    """Put ``modules`` in eval mode; restore every submodule's own mode on exit.

    Per submodule rather than per module: a model may deliberately keep parts in eval mode
    (e.g. frozen normalisation layers) while the rest trains, and ``.train()`` would undo
    that.
    """
    saved = [(m, m.training) for module in modules for m in module.modules()]
    try:
        for module in modules:
            module.eval()
        yield
    finally:
        for m, training in saved:
            m.training = training


def run_theta_is(
    loss: Any,
    encoder: nn.Module,
    synth: nn.Module,
    dataset: Dataset,
    n_examples: int,
    batch_size: int,
    save_dir: str | os.PathLike,
    n_iter: int = 20,
    start_path_idx: int = 0,
    end_path_idx: int | None = None,
    theta_idxs: Iterable[int] | None = None,
) -> Tensor | None:
    """θ-IS warmup of ``loss`` for ``encoder`` and ``synth`` on examples of ``dataset``.

    Puts the encoder and the synth in eval mode (dropout off; their previous modes come back
    afterwards, also on errors), renders the warmup batches (:func:`warmup_batches`) on the
    encoder's device, checks that encoder and synth are deterministic on the first batch,
    then runs :meth:`scrapl.SCRAPLLoss.warmup_lc_hvp` with the encoder's trainable
    parameters. Values already in ``save_dir`` are reused (see the module docstring), so a
    repeated call is cheap and returns the same π.

    Args:
        loss: a SCRAPL loss (with ``warmup_lc_hvp`` and ``check_is_deterministic``).
        encoder: ``encoder(audio (B, 1, N)) -> θ̂ (B, n_theta)`` in [0, 1].
        synth: ``synth(theta, seed) -> (B, 1, N)``, deterministic given the seed and
            differentiable in θ.
        dataset: the training set (items: dicts with ``theta``, ``seed``, ``seed_hat``).
        n_examples, batch_size: warmup examples and their batch size.
        save_dir: the warmup directory (per-(path, θ) values, ``config.json``, ``probs.pt``).
        n_iter: power iterations per (path, θ dim, batch).
        start_path_idx, end_path_idx, theta_idxs: the share of the work of this call (all
            paths and θ dims by default); several processes can split it.

    Returns:
        π as set on the loss (after its ``min_prob_frac`` floor, ``(n_paths,)`` float64) once
        every (path, θ dim) value is in ``save_dir``; None while some are missing (π is then
        left unchanged). ``save_dir/probs.pt`` holds π *before* the floor.

    Raises:
        TypeError: ``loss`` has no ``warmup_lc_hvp``, or encoder/synth are not modules.
        ValueError: the encoder has no trainable parameters (or a library argument check).
        RuntimeError: the encoder or the synth is not deterministic in eval mode.
    """
    if not callable(getattr(loss, "warmup_lc_hvp", None)):
        raise TypeError(
            f"loss must be a SCRAPL loss with warmup_lc_hvp (θ-IS warmup), got "
            f"{type(loss).__name__}"
        )
    for name, module in (("encoder", encoder), ("synth", synth)):
        if not isinstance(module, nn.Module):
            raise TypeError(f"{name} must be a torch.nn.Module, got {type(module).__name__}")
    params = [p for p in encoder.parameters() if p.requires_grad]
    if not params:
        raise ValueError("encoder must have trainable parameters (requires_grad=True)")
    device = params[0].device

    # warmup_lc_hvp calls theta_fn(**theta_fn_kwargs), i.e. theta_fn(x=...), whatever the
    # encoder's forward argument is called (AudioEncoder's is ``audio``).
    def theta_fn(x: Tensor) -> Tensor:
        return encoder(x)

    with _eval_mode(encoder, synth):
        theta_kwargs, synth_kwargs = warmup_batches(
            dataset, synth, n_examples, batch_size, device=device
        )
        if not loss.check_is_deterministic(theta_fn, theta_kwargs[0], synth, synth_kwargs[0]):
            raise RuntimeError(
                "θ-IS warmup needs a deterministic encoder and synth, but two calls on the "
                "first warmup batch gave different outputs (the warning above names which). "
                "Both are already in eval mode: look for randomness that ignores eval() "
                "(e.g. F.dropout(training=True), noise from the global RNG instead of the seed)."
            )
        log.info(
            f"θ-IS warmup: {n_examples} examples in {len(theta_kwargs)} batch(es) of "
            f"<= {batch_size}, {n_iter} power iterations, save_dir {os.fspath(save_dir)!r}"
        )
        return loss.warmup_lc_hvp(
            theta_fn=theta_fn,
            synth_fn=synth,
            theta_fn_kwargs=theta_kwargs,
            params=params,
            synth_fn_kwargs=synth_kwargs,
            start_path_idx=start_path_idx,
            end_path_idx=end_path_idx,
            theta_idxs=theta_idxs,
            save_dir=save_dir,
            n_iter=n_iter,
            target_key="x",
        )
