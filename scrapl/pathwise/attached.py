"""The parameters whose gradients SCRAPL transforms per path, and the guards around them.

P-Adam and P-SAGA (:mod:`scrapl.pathwise.adam_saga`; Mitcheltree et al., ICLR 2026) transform
the gradient of one training step, which must come from exactly one path: gradient
accumulation mixes paths and is refused. Every attached parameter carries two hooks: one that
sees each gradient as it arrives (before it is added to ``.grad``) and one after it was added.
The step's gradients are then transformed together, in place in ``.grad``, in one of two modes:

* **hooks** (``use_hooks=True``): at the end of the ``backward`` call (a callback queued on
  the autograd engine when the backward reaches the loss);
* **deferred** (``use_hooks=False``, for trainers that all-reduce gradients across devices or
  unscale them, e.g. a ``GradScaler``): when :meth:`AttachedParams.transform` is called.

Both modes refuse the same mistakes with the same error: a backward onto a gradient that was
neither zeroed nor (deferred mode) transformed, a backward through the loss of an earlier
forward (two losses summed, or an older loss), a backward through a loss evaluated in eval
mode, and (deferred mode) a second transform of the same gradients. A parameter that gets no
gradient on a step (it took no part in the loss) is left alone in both modes, as
``torch.optim`` leaves parameters whose ``grad`` is None.

No check reads a tensor's values: a gradient is recognised by identity and version counter
(``Tensor._version``, bumped by every in-place change such as ``zero_grad(set_to_none=False)``),
so nothing here waits for a GPU. A gradient that was zeroed, or changed in place, since this
module last saw it counts as discarded, not as one to accumulate onto.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import torch
from torch import Tensor

from scrapl.pathwise.adam_saga import PathwiseGradientTransform

ACCUMULATION_ADVICE = (
    "gradient accumulation is not supported with P-Adam/P-SAGA. Zero the gradients "
    "(optimizer.zero_grad()) before each backward pass, and call backward once per SCRAPL "
    "forward"
)
NO_TRAINING_PATH = (
    "no SCRAPL path was sampled in training mode before this backward pass: call the loss "
    "in training mode (loss.train()) before backward"
)
NOT_FROM_A_STEP = (
    "transform_grads() found gradients that no backward pass through a training-mode SCRAPL "
    "loss produced since the last transform_grads() (called twice in one step?): each step's "
    f"gradient is transformed once; {ACCUMULATION_ADVICE}."
)


class _Seen:
    """A gradient tensor as it was when seen: the same object, not changed in place since."""

    def __init__(self, grad: Tensor) -> None:
        self.ref, self.version = weakref.ref(grad), grad._version

    def unchanged(self, grad: Tensor | None) -> bool:
        return grad is not None and self.ref() is grad and grad._version == self.version


class AttachedParams:
    """Attached parameters, their gradient hooks and the (path, step) each gradient is from.

    Args:
        pathwise: the P-Adam / P-SAGA transform applied to the gradients.
    """

    def __init__(self, pathwise: PathwiseGradientTransform) -> None:
        self.pathwise = pathwise
        self.params: list[Tensor] = []
        self.use_hooks = True
        self.handles: list = []
        self.suspended = False
        self.reset()

    def attach(self, params: list[Tensor], use_hooks: bool) -> None:
        """Replace the attached parameters (an empty list detaches); hooks on every one."""
        for handle in self.handles:
            handle.remove()
        self.params, self.use_hooks = params, use_hooks
        self.handles = []
        for i, p in enumerate(params):
            self.handles.append(p.register_hook(partial(self._on_grad, i, p)))
            self.handles.append(p.register_post_accumulate_grad_hook(partial(self._on_stored, i)))
        self.pathwise.clear([p.shape for p in params])
        self.reset()

    def reset(self) -> None:
        """Forget the current step and the gradients seen (the loss's state was replaced)."""
        self.current: tuple[int, int] | None = None
        # Parameter index -> (path, step) of its gradient awaiting the transform.
        self.pending: dict[int, tuple[int, int]] = {}
        self.received: dict[int, _Seen] = {}  # the gradients awaiting the transform
        self.transformed: dict[int, _Seen] = {}  # as the last transform left them
        self.raw: dict[int, _Seen] = {}  # stored while suspended (never to be transformed)
        self.callback_queued = False

    def start_step(self, path_idx: int, step: int) -> None:
        """A training-mode forward along ``path_idx`` began global step ``step``."""
        self.current = (path_idx, step)
        self.callback_queued = False
        # Gradients awaiting a transform that were discarded since (zeroed, set to None).
        for i in [i for i in self.pending if not self.received[i].unchanged(self.params[i].grad)]:
            del self.pending[i], self.received[i]
        if self.params:
            self.pathwise.prefetch(path_idx)

    def watch(self, output: Tensor, source: tuple[int, int] | None) -> None:
        """Check, when a gradient flows back through ``output`` (the loss of one forward),
        that it is the current step's; ``source`` is None for a forward in eval mode."""
        if self.params and output.requires_grad:
            output.register_hook(partial(self._on_output_grad, source))

    @contextmanager
    def suspend(self) -> Iterator[None]:
        """Let gradients reach the attached parameters untouched and unrecorded (θ-IS
        warmup's Hessian-vector products: tensor hooks also fire for ``autograd.grad``)."""
        before, self.suspended = self.suspended, True
        try:
            yield
        finally:
            self.suspended = before

    # -- hooks ---------------------------------------------------------------------------

    def _on_output_grad(self, source: tuple[int, int] | None, grad: Tensor) -> None:
        if self.suspended:
            return
        if source is None:
            raise RuntimeError(
                "backward through a SCRAPL loss evaluated in eval mode reached the attached "
                "parameters, whose gradients P-Adam/P-SAGA transform for training steps only: "
                "call the loss in training mode (loss.train()) before backward"
            )
        if source != self.current:
            now = "none" if self.current is None else f"{self.current[1]}"
            raise RuntimeError(
                f"backward through the SCRAPL loss of step {source[1]} (path {source[0]}) "
                f"while the current step is {now}: each step's gradient must come from its "
                f"own path, so backward must follow each forward; {ACCUMULATION_ADVICE}."
            )
        if self.use_hooks and not self.callback_queued:
            self.callback_queued = True
            torch.autograd.Variable._execution_engine.queue_callback(self._end_of_backward)

    def _on_grad(self, idx: int, param: Tensor, grad: Tensor) -> None:
        if self.suspended:
            return
        live = (self.received.get(idx), self.transformed.get(idx), self.raw.get(idx))
        if any(seen is not None and seen.unchanged(param.grad) for seen in live):
            raise RuntimeError(
                f"attached parameter {idx} already holds a gradient: {ACCUMULATION_ADVICE}."
            )
        if self.current is None:
            raise RuntimeError(NO_TRAINING_PATH)
        self.pending[idx] = self.current

    def _on_stored(self, idx: int, param: Tensor) -> None:
        if param.grad is None:
            return
        if self.suspended:
            self.raw[idx] = _Seen(param.grad)
        elif idx in self.pending:
            self.received[idx] = _Seen(param.grad)

    def _end_of_backward(self) -> None:
        self.callback_queued = False
        self._transform_pending()

    # -- the transform -------------------------------------------------------------------------

    def transform(self) -> None:
        """Deferred mode: transform in place the ``.grad`` that each parameter received from
        this step's backward (parameters without a new gradient are left alone)."""
        if not self.params:
            return
        if self.use_hooks:
            raise RuntimeError(
                "transform_grads() is for parameters attached with use_hooks=False: with "
                "hooks, the gradients were already transformed during backward"
            )
        if not self.pending:
            seen = [*self.transformed.items(), *self.raw.items()]
            if any(s.unchanged(self.params[i].grad) for i, s in seen):
                raise RuntimeError(NOT_FROM_A_STEP)
            return
        self._transform_pending()

    def _transform_pending(self) -> None:
        pending, self.pending = self.pending, {}
        self.received = {}
        # One call per (path, step): normally the whole step at once.
        for path_idx, step in sorted(set(pending.values()), key=lambda ps: ps[1]):
            idxs = [i for i, src in pending.items() if src == (path_idx, step)]
            idxs = [i for i in idxs if self.params[i].grad is not None]
            if not idxs:
                continue
            grads = [self.params[i].grad if i in idxs else None for i in range(len(self.params))]
            outs = self.pathwise.apply_all(grads, path_idx, step)
            torch._foreach_copy_([grads[i] for i in idxs], [outs[i] for i in idxs])
            for i in idxs:
                self.transformed[i] = _Seen(self.params[i].grad)
                self.raw.pop(i, None)
