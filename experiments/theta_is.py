"""θ-importance-sampling (θ-IS) warmup of the sound-matching experiments.

SCRAPL (Mitcheltree et al., ICLR 2026, §3) draws one scattering path per training step from a
categorical distribution π. θ-IS sets π once, before training, from the curvature that each
path induces on the encoder's weights through every synth parameter θ_u. The library does
the computation (:func:`scrapl.warmup.warmup_lc_hvp`); this module is the experiment-side
glue, following the published protocol (the paper's set-up): the warmup examples are the **first
training batches** of the run (epoch 0's order), rendered exactly as the training step renders
them (target ``x = synth(θ, seed)``, or the item's recorded ``x``; reconstruction seeds of
epoch 0, or none for a synth that takes none; with a ``pad``, the training shift of
:class:`experiments.module.SoundMatching` on both sides of the loss), with the encoder and
synth in eval mode. The published runs computed it once, with seed 0, and loaded the same
probabilities in every seed's run (``loss.probs_path``, see ``scripts/warmup.py``).

Warmup cache: the warmup directory is ``cache_dir / f"{label}_{key}"``, ``key`` a digest of
what determines the result before anything is rendered (set-up, θ, seeds, initial weights;
:mod:`experiments.theta_is_cache`), never of the audio's bits, which differ between devices
and thread counts. The folder keeps the batches of the first process that reached it, and
every process computes on those: a training run restarted after a kill, a later run with
the same seed, ``scripts/warmup.py`` on another device or another DDP rank finds the same
folder and the same audio, and resumes it (the library skips every (path, θ) value already
on disk); different set-ups never mix values.

No Lightning here: :class:`experiments.callbacks.theta_is.ThetaIS` calls :func:`run_theta_is`
from a training run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset, default_collate

from experiments.data.recon_seeds import reconstruction_seeds
from experiments.synth_protocol import render, synth_takes_seed
from experiments.theta_is_cache import read_or_write_batches, warmup_key
from experiments.training_shift import pad_shift
from scrapl.validation import check_int

__all__ = [
    "WarmupSet",
    "adopt_folder_batches",
    "chunk_range",
    "prepare_warmup",
    "run_theta_is",
    "warmup_batches",
    "warmup_items",
]

log = logging.getLogger(__name__)


def _item_keys(item: object, index: int, takes_seed: bool, pad: int | None) -> list[str]:
    """The keys of ``item`` the warmup reads: the target (``x``, else ``theta``), the target
    seed if the synth takes one, the training shift with a pad."""
    target = ["x"] if isinstance(item, dict) and "x" in item else ["theta"]
    keys = target + ["seed"] * takes_seed + ["shift"] * (pad is not None)
    if not isinstance(item, dict):
        raise TypeError(
            f"dataset[{index}] must be a dict with keys {keys}, got {type(item).__name__}"
        )
    missing = [k for k in keys if k not in item]
    if missing:
        raise ValueError(
            f"dataset[{index}] must hold the keys {keys} (target, target seed, shift), "
            f"missing {missing}; its keys are {sorted(item)}"
        )
    return keys


class _ShiftedSynth:
    """``pad_shift(synth(θ[, seed]), shift, pad)``: the reconstruction as the loss sees it."""

    def __init__(self, synth: nn.Module, pad: int) -> None:
        self.synth = synth
        self.pad = pad

    def __call__(self, theta: Tensor, shift: Tensor, seed: Tensor | None = None) -> Tensor:
        return pad_shift(render(self.synth, theta, seed), shift, self.pad)


def warmup_batches(
    dataset: Dataset,
    synth: nn.Module,
    order: Sequence[int],
    n_examples: int,
    batch_size: int,
    run_seed: int,
    device: torch.device | str | None = None,
    pad: int | None = None,
    dtype: torch.dtype | None = None,
) -> tuple[list[dict[str, Tensor]], list[dict[str, Tensor]]]:
    """The warmup batches: keyword arguments of the encoder and of the synth, one dict each.

    The examples are the first ``n_examples`` indices of ``order`` (the training order of
    epoch 0), grouped into batches of ``batch_size`` (the last one may be smaller), collated
    like a dataloader batch and rendered as in the training step of epoch 0.

    Args:
        dataset: map-style dataset whose items are dicts with ``theta`` ``(n_theta,)`` and
            ``seed`` (int64 scalar), e.g. a ``ThetaGridDataset``; or with the recorded target
            ``x`` ``(1, N)`` (then ``theta`` is not needed), ``seed`` only if the synth takes
            one, and the training ``shift`` (int) when ``pad`` is set (a ``OneShotDataset``).
        synth: ``synth(theta, seed) -> (B, 1, N)``, deterministic given the seed, or
            ``synth(theta)`` when ``synth.takes_seed`` is False; call it in the mode the
            warmup uses (:func:`run_theta_is` puts it in eval mode first).
        order: dataset indices in training order (at least ``n_examples`` of them).
        n_examples: number of warmup examples (>= 1).
        batch_size: examples per batch (>= 1).
        run_seed: the run's seed, from which the reconstruction seeds are derived.
        device: where θ, the seeds and the audio go (the encoder's device).
        pad: the module's pad (:class:`experiments.module.SoundMatching`), or None.
        dtype: the floating dtype of θ and of recorded audio (the encoder's, e.g. float64
            under ``trainer.precision=64-true``, which converts training batches alike);
            None keeps the dataset's.

    Returns:
        ``(theta_fn_kwargs, synth_fn_kwargs)``, one dict per batch, as
        :func:`scrapl.warmup.warmup_lc_hvp` takes them: without a pad,
        ``[{"x": target}, ...]`` (target audio: ``synth(theta, seed)`` rendered without
        gradient, or the recording) and ``[{"seed": seed_hat}, ...]`` (``{}`` for a synth
        without seed); with a pad, ``{"x": pad_shift(target, 0, pad), "audio": target}``
        (the loss's target and the encoder's input) and the synth kwargs gain ``"shift"``
        (for :class:`_ShiftedSynth`).
    """
    if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
        raise TypeError(
            "dataset must be a map-style dataset (with __len__ and __getitem__), "
            f"got {type(dataset).__name__}"
        )
    if not callable(synth):
        raise TypeError(f"synth must be callable (a synth module), got {type(synth).__name__}")
    n_examples = check_int("n_examples", n_examples, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    order = list(order)
    if n_examples > len(order):
        raise ValueError(
            f"n_examples must be <= the number of training examples ({len(order)}), "
            f"got {n_examples}"
        )
    takes_seed = synth_takes_seed(synth)
    items = warmup_items(dataset, order, n_examples, takes_seed, pad)
    theta_fn_kwargs: list[dict[str, Tensor]] = []
    synth_fn_kwargs: list[dict[str, Tensor]] = []
    for start in range(0, n_examples, batch_size):
        batch = default_collate(items[start : min(start + batch_size, n_examples)])
        synth_kwargs = {}
        if takes_seed:
            synth_kwargs["seed"] = reconstruction_seeds(run_seed, "train", 0, batch["seed"])
        if device is not None or dtype is not None:
            batch = {k: _to(v, device, dtype) for k, v in batch.items()}
            synth_kwargs = {k: _to(v, device, dtype) for k, v in synth_kwargs.items()}
        if "x" in batch:
            x = batch["x"]
        else:
            with torch.no_grad():
                x = render(synth, batch["theta"], batch.get("seed"))
        if not isinstance(x, Tensor):
            raise TypeError(f"synth must return a torch.Tensor, got {type(x).__name__}")
        if pad is None:
            theta_fn_kwargs.append({"x": x.detach()})
        else:
            target = pad_shift(x.detach(), 0, pad)
            theta_fn_kwargs.append({"x": target, "audio": x.detach()})
            synth_kwargs["shift"] = batch["shift"]
        synth_fn_kwargs.append(synth_kwargs)
    return theta_fn_kwargs, synth_fn_kwargs


def warmup_items(
    dataset: Dataset, order: Sequence[int], n_examples: int, takes_seed: bool, pad: int | None
) -> list[dict[str, Tensor]]:
    """The first ``n_examples`` items of ``order``, restricted to the keys the warmup reads."""
    items = []
    for i in list(order)[:n_examples]:
        item = dataset[i]
        items.append({k: item[k] for k in _item_keys(item, i, takes_seed, pad)})
    return items


def _to(value: Tensor, device: torch.device | str | None, dtype: torch.dtype | None) -> Tensor:
    """``value`` on ``device``, floating values in ``dtype`` (integers, e.g. seeds, kept)."""
    floating = dtype is not None and value.is_floating_point()
    return value.to(device=device, dtype=dtype if floating else value.dtype)


@contextmanager
def _eval_mode(*modules: nn.Module) -> Iterator[None]:
    """Put ``modules`` in eval mode; restore every submodule's own mode on exit."""
    saved = [(m, m.training) for module in modules for m in module.modules()]
    try:
        for module in modules:
            module.eval()
        yield
    finally:
        for m, training in saved:
            m.training = training


@dataclass(frozen=True)
class WarmupSet:
    """Everything a warmup call needs, prepared once: batches, parameters, directory.

    Attributes:
        theta_fn, theta_kwargs, synth_kwargs, params: the arguments of ``warmup_lc_hvp``.
        save_dir: ``cache_dir / f"{label}_{key}"`` (see the module docstring).
        synth_fn: the ``synth_fn`` of ``warmup_lc_hvp``: the synth itself, or with a pad the
            synth followed by the training shift (None: the synth given to
            :func:`run_theta_is`).
    """

    theta_fn: Callable[..., Tensor]
    theta_kwargs: list[dict[str, Tensor]]
    synth_kwargs: list[dict[str, Tensor]]
    params: list[nn.Parameter]
    save_dir: Path
    synth_fn: Callable[..., Tensor] | None = None


def prepare_warmup(
    loss: Any,
    encoder: nn.Module,
    synth: nn.Module,
    dataset: Dataset,
    order: Sequence[int],
    run_seed: int,
    n_examples: int,
    batch_size: int,
    cache_dir: str | os.PathLike,
    label: str = "warmup",
    n_iter: int = 20,
    pad: int | None = None,
) -> WarmupSet:
    """Render the warmup batches and find the warmup directory (in eval mode; no HVP yet).

    ``pad``: the module's pad (the TR-808 training shift), or None; see :func:`warmup_batches`.
    """
    if not callable(getattr(loss, "warmup_lc_hvp", None)):
        raise TypeError(
            f"loss must be a SCRAPL loss with warmup_lc_hvp (θ-IS warmup), got "
            f"{type(loss).__name__}"
        )
    for name, module in (("encoder", encoder), ("synth", synth)):
        if not isinstance(module, nn.Module):
            raise TypeError(f"{name} must be a torch.nn.Module, got {type(module).__name__}")
    if not isinstance(label, str) or not label or os.sep in label:
        raise ValueError(f"label must be a non-empty file name (no {os.sep!r}), got {label!r}")
    params = [p for p in encoder.parameters() if p.requires_grad]
    if not params:
        raise ValueError("encoder must have trainable parameters (requires_grad=True)")

    # warmup_lc_hvp calls theta_fn(**theta_fn_kwargs), i.e. theta_fn(x=...), whatever the
    # encoder's forward argument is called (AudioEncoder's is ``audio``). With a pad, x is
    # the loss's (delayed) target and the encoder reads the sound itself.
    def theta_fn(x: Tensor, audio: Tensor | None = None) -> Tensor:
        return encoder(x if audio is None else audio)

    if pad is not None:
        pad = check_int("pad", pad, 0)
    with _eval_mode(encoder, synth):
        theta_kwargs, synth_kwargs = warmup_batches(
            dataset, synth, order, n_examples, batch_size, run_seed,
            device=params[0].device, pad=pad, dtype=params[0].dtype,
        )  # fmt: skip
    items = warmup_items(dataset, order, n_examples, synth_takes_seed(synth), pad)
    key = warmup_key(loss, encoder, synth, items, params, run_seed, batch_size, n_iter, pad)
    save_dir = Path(cache_dir) / f"{label}_{key}"
    synth_fn = None if pad is None else _ShiftedSynth(synth, pad)
    return WarmupSet(theta_fn, theta_kwargs, synth_kwargs, params, save_dir, synth_fn)


def adopt_folder_batches(warmup: WarmupSet) -> WarmupSet:
    """``warmup`` computing on its folder's batches (written from its own if the folder has
    none yet; see :mod:`experiments.theta_is_cache`), on the parameters' device."""
    theta_kwargs, synth_kwargs = read_or_write_batches(
        warmup.save_dir, warmup.theta_kwargs, warmup.synth_kwargs, warmup.params[0].device
    )
    return replace(warmup, theta_kwargs=theta_kwargs, synth_kwargs=synth_kwargs)


def chunk_range(n_paths: int, n_chunks: int, chunk: int) -> tuple[int, int]:
    """Path range ``[start, end)`` of ``chunk`` when ``n_paths`` are cut into ``n_chunks``."""
    if not isinstance(n_chunks, int) or n_chunks < 1:
        raise ValueError(f"warmup.n_chunks must be an int >= 1, got {n_chunks!r}")
    if not isinstance(chunk, int) or not 0 <= chunk < n_chunks:
        raise ValueError(f"warmup.chunk must be an int in [0, {n_chunks}), got {chunk!r}")
    return chunk * n_paths // n_chunks, (chunk + 1) * n_paths // n_chunks


def run_theta_is(
    loss: Any,
    encoder: nn.Module,
    synth: nn.Module,
    warmup: WarmupSet,
    n_iter: int = 20,
    start_path_idx: int = 0,
    end_path_idx: int | None = None,
    theta_idxs: Iterable[int] | None = None,
) -> Tensor | None:
    """θ-IS warmup of ``loss`` on a :class:`WarmupSet` (see :func:`prepare_warmup`).

    Puts the encoder and the synth in eval mode (their previous modes come back afterwards,
    also on errors), checks that both are deterministic on the first batch, then runs
    :func:`scrapl.warmup.warmup_lc_hvp` in ``warmup.save_dir``. Values already there are
    reused, so a repeated call is cheap and returns the same π.

    Returns:
        π as set on the loss (after its ``min_prob_frac`` floor) once every (path, θ dim)
        value is in ``save_dir``; None while some are missing (π is then left unchanged).

    Raises:
        RuntimeError: the encoder or the synth is not deterministic in eval mode.
    """
    synth_fn = synth if warmup.synth_fn is None else warmup.synth_fn
    with _eval_mode(encoder, synth):
        first = warmup.theta_kwargs[0], warmup.synth_kwargs[0]
        if not loss.check_is_deterministic(warmup.theta_fn, first[0], synth_fn, first[1]):
            raise RuntimeError(
                "θ-IS warmup needs a deterministic encoder and synth, but two calls on the "
                "first warmup batch gave different outputs (the warning above names which). "
                "Both are already in eval mode: look for randomness that ignores eval() "
                "(e.g. F.dropout(training=True), noise from the global RNG instead of the seed)."
            )
        # Checked before anything is written; then the folder's batches (module docstring).
        warmup = adopt_folder_batches(warmup)
        log.info(
            f"θ-IS warmup: {len(warmup.theta_kwargs)} batch(es), {n_iter} power iterations, "
            f"save_dir {str(warmup.save_dir)!r}"
        )
        return loss.warmup_lc_hvp(
            theta_fn=warmup.theta_fn,
            synth_fn=synth_fn,
            theta_fn_kwargs=warmup.theta_kwargs,
            params=warmup.params,
            synth_fn_kwargs=warmup.synth_kwargs,
            start_path_idx=start_path_idx,
            end_path_idx=end_path_idx,
            theta_idxs=theta_idxs,
            save_dir=warmup.save_dir,
            n_iter=n_iter,
            target_key="x",
            progress="total",  # one bar on the console; each path's values go to train.log
        )
