"""The parameters whose gradients SCRAPL transforms per path, and the guards around them.

P-Adam and P-SAGA (:mod:`scrapl.pathwise.adam_saga`; Mitcheltree et al., ICLR 2026) transform the
gradient of one training step, which must come from exactly one path: gradient accumulation
mixes paths and is refused (SPEC §3). A gradient hook on every attached parameter sees each
gradient as it arrives, in one of two modes:

* **hooks** (``use_hooks=True``): the hook returns the transformed gradient, inside
  ``backward``;
* **deferred** (``use_hooks=False``, for trainers that all-reduce gradients across devices):
  the hook only records that the parameter received the gradient of this step's path, and
  :meth:`AttachedParams.transform` later transforms exactly those gradients in place.

Both modes refuse the same mistakes with the same error: a backward onto a gradient that was
neither zeroed nor (deferred mode) transformed, a backward through the loss of an earlier
forward (two losses summed, or an older loss), a backward through a loss evaluated in eval
mode, and (deferred mode) a second transform of the same gradients. A parameter that gets
no gradient on a step (its hook does not fire: it took no part in the loss) is left alone in
both modes, as ``torch.optim`` leaves parameters whose ``grad`` is None.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

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
        # (path, step) of the latest training-mode forward: the source of this step's gradient.
        self.current: tuple[int, int] | None = None
        # Deferred mode: parameter index -> (path, step) of its gradient awaiting transform().
        self.pending: dict[int, tuple[int, int]] = {}
        self.suspended = False

    def attach(self, params: list[Tensor], use_hooks: bool) -> None:
        """Replace the attached parameters (an empty list detaches); hooks on every one."""
        for handle in self.handles:
            handle.remove()
        self.params, self.use_hooks, self.pending = params, use_hooks, {}
        self.handles = [p.register_hook(partial(self._on_grad, i, p)) for i, p in enumerate(params)]

    def reset(self) -> None:
        """Forget the current step and the pending gradients (the loss's state was replaced)."""
        self.current, self.pending = None, {}

    def start_step(self, path_idx: int, step: int) -> None:
        """A training-mode forward along ``path_idx`` began global step ``step``."""
        self.current = (path_idx, step)

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

    def _on_grad(self, idx: int, param: Tensor, grad: Tensor) -> Tensor | None:
        if self.suspended:
            return None
        # A zero .grad is a gradient that was discarded (zero_grad), not one to accumulate onto.
        if param.grad is not None and bool((param.grad != 0).any()):
            raise RuntimeError(
                f"attached parameter {idx} already holds a gradient: {ACCUMULATION_ADVICE}."
            )
        if self.current is None:
            raise RuntimeError(NO_TRAINING_PATH)
        if not self.use_hooks:
            self.pending[idx] = self.current
            return None
        path_idx, step = self.current
        return self.pathwise.apply(grad, idx, path_idx, step)

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
            if any(p.grad is not None and bool((p.grad != 0).any()) for p in self.params):
                raise RuntimeError(
                    "transform_grads() found gradients that no backward pass through a "
                    "training-mode SCRAPL loss produced since the last transform_grads() "
                    "(called twice in one step?): each step's gradient is transformed once; "
                    f"{ACCUMULATION_ADVICE}."
                )
            return
        pending, self.pending = self.pending, {}
        for idx, (path_idx, step) in sorted(pending.items()):
            param = self.params[idx]
            if param.grad is not None:
                param.grad.copy_(self.pathwise.apply(param.grad, idx, path_idx, step))
