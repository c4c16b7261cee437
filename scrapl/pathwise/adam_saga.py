"""Per-path gradient transforms used by SCRAPL: P-Adam and P-SAGA.

SCRAPL (Mitcheltree et al., "SCRAPL: Scattering Transform with Random Paths for Machine
Learning", ICLR 2026) evaluates, at each training step ``k = 1, 2, ...``, the loss of only one
randomly sampled scattering path ``p`` out of ``P``. Gradients from different paths have very
different scales and are individually noisy, so the gradient of every attached parameter is
transformed per path before a plain SGD step:

* **P-Adam** keeps Adam moments ``m, v`` per (path, parameter). A path is revisited only every
  ~``P`` steps, so moments decay by ``beta ** ((k - tau) / P)`` where ``tau`` is the step of the
  previous visit, and bias correction uses ``1 - beta ** (k / P)``. On a first visit this gives
  ``m_hat = g``, i.e. the output is ``g / (eps + |g|)``, roughly ``sign(g)``. Incoming gradients
  are first scaled by ``grad_mult`` so that squaring tiny float32 gradients does not underflow
  and ``eps`` does not swamp them; the output of P-Adam is unitless (about ``[-1, 1]``), so this
  scale does not leak into the update.
* **P-SAGA** (variance reduction, applied to the P-Adam output ``g_hat``) keeps a table ``t`` of
  the last ``g_hat`` seen for every visited path and returns
  ``g_hat - t[p] + mean(t[visited before this step])``, then stores ``t[p] = g_hat``.
  A running sum makes each step ``O(numel)`` instead of ``O(P * numel)``.

Gaps: ``step`` is global and may jump. A parameter without a gradient on a step (None, as
``torch.optim`` skips a None grad) keeps its moments, ``tau`` and SAGA entries, so its next
visit of a path decays by the gap since its own previous update there. The bias correction by
the global ``k`` stays exact: with ``tau = 0`` before the first visit the weights of the
gradients in ``m`` sum to ``1 - beta1 ** (k / P)``.

Overflow. A step whose gradients are not all finite (a mixed-precision step that overflowed)
leaves the whole state as it was (moments, ``tau``, SAGA table, sum and counts), is counted in
:attr:`PathwiseGradientTransform.skipped_steps`, and hands the non-finite gradients back
unchanged, so that a ``GradScaler`` skips the optimizer step and lowers its scale.

Layout and cost. The attached parameters are one flat vector: per visited path, ``m``, ``v``
and ``t`` are each one flat buffer; per parameter, ``tau`` and the SAGA visit flags are small
``(n_paths, n_params)`` tensors. A step is a few dozen whole-vector operations whatever the
number of parameter tensors, all on the parameters' device, and none reads a value back to the
host: the overflow decision is a device tensor that selects, element by element, between the
new and the old state. The state follows the parameters' device (``offload_to_cpu``: it stays
in CPU memory, pinned when the parameters are on a GPU, and each step copies one path's
buffers over and back without blocking).

Units: with P-Adam the output is dimensionless; without it the output has the units of the
gradient (``grad_mult`` is then not applied). ``step`` is the 1-based global optimizer step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from scrapl.pathwise.path_buffers import PathBuffers
from scrapl.pathwise.step_stats import StepStats
from scrapl.validation import check_bool, check_float, check_float_dtype, check_int, check_positive

_CONFIG_KEYS = ("n_paths", "use_p_adam", "use_p_saga", "grad_mult", "beta1", "beta2", "eps")
FORMAT = "scrapl-pathwise/2"


class PathwiseGradientTransform:
    """Stateful P-Adam / P-SAGA transform of a step's gradients for its sampled path."""

    def __init__(
        self,
        n_paths: int,
        use_p_adam: bool = True,
        use_p_saga: bool = True,
        grad_mult: float = 1e8,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        storage_dtype: torch.dtype | None = None,
        offload_to_cpu: bool = False,
    ) -> None:
        self.n_paths = check_int("n_paths", n_paths, 1)
        self.use_p_adam = check_bool("use_p_adam", use_p_adam)
        self.use_p_saga = check_bool("use_p_saga", use_p_saga)
        self.offload_to_cpu = check_bool("offload_to_cpu", offload_to_cpu)
        self.grad_mult = check_positive("grad_mult", grad_mult)
        self.beta1 = check_float("beta1", beta1, 0.0, 1.0)
        self.beta2 = check_float("beta2", beta2, 0.0, 1.0)
        self.eps = check_positive("eps", eps)
        self.storage_dtype = check_float_dtype("storage_dtype", storage_dtype)
        self.shapes: list[torch.Size] | None = None
        # Opt-in per-step statistics (scrapl.pathwise.step_stats): computed on the device
        # into last_stats when record_stats is set; nothing is computed otherwise.
        self.record_stats = False
        self.last_stats: dict[str, Tensor] | None = None
        self.clear()

    # -- state ---------------------------------------------------------------------------

    def clear(self, shapes: Sequence[Sequence[int]] | None = None) -> None:
        """Forget all state; ``shapes`` (the parameters' shapes) fixes the layout, else the
        layout is kept (or taken from the first :meth:`apply_all`)."""
        if shapes is not None:
            self.shapes = [torch.Size(s) for s in shapes]
        self.buffers: PathBuffers | None = None
        self.last_step: list[int] = [0] * len(self.shapes or [])
        self._stats = StepStats(self.n_paths)
        self.last_stats = None

    @property
    def skipped_steps(self) -> Tensor | None:
        """Steps left out because their gradients were not finite (a device tensor; None
        before the first step)."""
        return None if self.buffers is None else self.buffers.skipped

    def memory_bytes(self) -> int:
        """Bytes held by all state tensors."""
        return 0 if self.buffers is None else self.buffers.memory_bytes()

    def to_device(self, device: torch.device) -> None:
        """Move the state where the parameters live (kept in CPU memory when offloading)."""
        if self.buffers is not None:
            self.buffers.to_device(torch.device(device))

    def prefetch(self, path_idx: int) -> None:
        """Start copying an offloaded path's buffers to the device (no-op otherwise)."""
        if self.buffers is not None:
            self.buffers.prefetch(path_idx)

    # -- the transform ----------------------------------------------------------------------

    def _validate(self, grads: Sequence[Tensor | None], path_idx: int, step: int) -> None:
        check_int("step", step, 1)
        check_int("path_idx", path_idx, 0)
        if path_idx >= self.n_paths:
            raise ValueError(f"path_idx must be in [0, {self.n_paths}), got {path_idx}")
        if isinstance(grads, Tensor) or not isinstance(grads, Sequence):
            raise TypeError(f"grads must be a list of tensors (or None), got {type(grads)}")
        present = [g for g in grads if g is not None]
        for g in present:
            if not isinstance(g, Tensor) or not g.is_floating_point():
                raise TypeError(
                    "grads must be floating-point torch.Tensors (or None), got "
                    f"{getattr(g, 'dtype', type(g))}"
                )
        if self.shapes is None:
            if len(present) != len(grads):
                raise ValueError(
                    "the first call must give every gradient (the layout is taken from it), "
                    "or call clear(shapes) first"
                )
            self.clear([g.shape for g in grads])
        if len(grads) != len(self.shapes):
            raise ValueError(f"grads must hold {len(self.shapes)} entries, got {len(grads)}")
        for i, g in enumerate(grads):
            if g is not None and g.shape != self.shapes[i]:
                raise ValueError(
                    f"grad for param_idx={i} has shape {tuple(g.shape)}, but the layout has "
                    f"shape {tuple(self.shapes[i])}"
                )
        if len({g.device for g in present}) > 1:
            raise ValueError("grads must all be on one device")
        for i, g in enumerate(grads):
            if g is None:
                continue
            if step == self.last_step[i]:
                raise RuntimeError(
                    f"apply_all() called twice for param_idx={i} at step={step}: gradient "
                    "accumulation is not supported with P-Adam/P-SAGA (each step's gradient "
                    "must come from exactly one path). Call backward() once per step and zero "
                    "the grads before the next backward()."
                )
            if step < self.last_step[i]:
                raise ValueError(
                    f"step must not decrease for param_idx={i}: got step={step} after "
                    f"step={self.last_step[i]}"
                )

    def apply_all(
        self, grads: Sequence[Tensor | None], path_idx: int, step: int
    ) -> list[Tensor | None]:
        """Transform the gradients of step ``step`` (one per parameter, None for a parameter
        without gradient), computed from path ``path_idx``.

        Returns new tensors with the gradients' shapes and dtypes (None where the input is
        None). Nothing is changed when an argument is refused.
        """
        self._validate(grads, path_idx, step)
        present = [i for i, g in enumerate(grads) if g is not None]
        if not present:
            return [None] * len(grads)
        for i in present:
            self.last_step[i] = step
        first = grads[present[0]]
        # Half-precision gradients are computed in float32: squaring them would underflow.
        cdt = (
            torch.float64
            if any(grads[i].dtype == torch.float64 for i in present)
            else (torch.float32)
        )
        if self.buffers is None:
            self.buffers = PathBuffers(
                self.n_paths, self.shapes, first.device, cdt, self.storage_dtype,
                self.offload_to_cpu, with_adam=self.use_p_adam, with_saga=self.use_p_saga,
            )  # fmt: skip
        buf = self.buffers
        buf.to_device(first.device)
        flat = buf.flatten(grads, cdt)
        if not (self.use_p_adam or self.use_p_saga):
            return buf.unflatten(flat, grads)
        # One device-side decision per step: which parameters' state this step updates.
        has_grad = torch.zeros(len(grads), dtype=torch.bool, device=flat.device)
        has_grad[present] = True
        # min and max propagate NaN: one reduction instead of a full-size isfinite mask.
        finite = torch.isfinite(torch.stack(torch.aminmax(flat))).all()
        active = has_grad & finite
        buf.skipped += (~finite).to(buf.skipped.dtype)
        # Every per-parameter factor of the step, spread over the parameters' elements.
        columns = {"active": active.to(cdt)}
        if self.use_p_adam:
            age = (step - buf.tau[path_idx]) / self.n_paths
            for name, beta in (("1", self.beta1), ("2", self.beta2)):
                columns["keep" + name] = self._decay(beta, age, active, cdt, keep=True)
                columns["new" + name] = self._decay(beta, age, active, cdt, keep=False)
        if self.use_p_saga:
            columns["count"] = buf.visited.sum(dim=0).clamp_min(1).to(cdt)  # |Γ| per parameter
        per_element = {name: buf.expand(value) for name, value in columns.items()}
        active_flat = per_element["active"] != 0
        g = torch.where(active_flat, flat, 0.0)
        state = buf.load(path_idx, cdt)
        watch = self._watch(buf, state, path_idx) if self.record_stats else None
        if self.use_p_adam:
            g = self._p_adam(buf, state, g, active, per_element, path_idx, step)
        g_hat = g.clone() if watch is not None and self.use_p_saga else g
        if self.use_p_saga:
            g = self._p_saga(buf, state, g, active, active_flat, per_element, path_idx)
        buf.store(path_idx, state)
        if watch is not None:
            self.last_stats = self._stats.step(
                path_idx=path_idx, step=step, grad=flat, g_hat=g_hat, out=g,
                active_flat=active_flat,
                finite=finite, updated=active.any(), **watch,
            )  # fmt: skip
        # Non-finite steps hand the raw (non-finite) gradients back: a GradScaler skips them.
        return buf.unflatten(torch.where(finite, g, flat), grads)

    def _watch(self, buf, state, p) -> dict:
        """What the statistics need from before the step (the path's stored entry)."""
        saga = self.use_p_saga
        return {
            "old": state["t"] if saga else None,  # replaced, not changed, by _p_saga
            "revisited": buf.visited[p].any() if saga else None,
            "visited_before": buf.visited.any(dim=1) if saga else None,
            # Where the ages start from, read once (before this step's update of tau).
            "tau": buf.tau.clone()
            if self._stats.stored_at is None and buf.tau is not None
            else None,
        }

    def _p_adam(self, buf, state, g, active, per_element, p, k) -> Tensor:
        # In place where possible: on a CPU every fresh full-size temporary costs more than
        # the arithmetic. m ← d m + (1 − d) g with d = β^age; 1 − d from expm1 in float64,
        # so that it keeps full precision when d is close to 1 (β2 = 0.999). Inactive
        # parameters get d = 1 and 1 − d = 0: their moments stay exactly as they were.
        g.mul_(self.grad_mult)
        m = state["m"].mul_(per_element["keep1"]).addcmul_(g, per_element["new1"])
        v = state["v"].mul_(per_element["keep2"]).addcmul_(g * per_element["new2"], g)
        buf.tau[p] = torch.where(active, float(k), buf.tau[p])
        # Computed from the stored (possibly low-precision) moments, so that a state_dict
        # round trip and a continuous run see exactly the same numbers.
        state["m"], state["v"] = buf.round_to_storage(m), buf.round_to_storage(v)
        bc1 = 1.0 - self.beta1 ** (k / self.n_paths)
        bc2 = 1.0 - self.beta2 ** (k / self.n_paths)
        denom = state["v"].mul(1.0 / bc2).sqrt_().add_(self.eps)
        return state["m"].mul(1.0 / bc1).div_(denom)

    @staticmethod
    def _decay(beta: float, age: Tensor, active: Tensor, dtype, keep: bool) -> Tensor:
        """Per parameter, ``β^age`` (``keep``) or ``1 − β^age``; 1 and 0 where inactive."""
        if beta == 0.0:
            value = torch.zeros_like(age) if keep else torch.ones_like(age)
        else:
            x = age * math.log(beta)
            value = torch.exp(x) if keep else -torch.expm1(x)
        return torch.where(active, value, 1.0 if keep else 0.0).to(dtype)

    def _p_saga(self, buf, state, g, active, active_flat, per_element, p) -> Tensor:
        old = state["t"]  # zeros where the path was never visited
        mean = buf.total / per_element["count"]  # over the paths visited before this step
        new = torch.where(active_flat, buf.round_to_storage(g), old)
        # Accumulate the stored values (not g) so the sum always equals the table's sum.
        buf.total.add_(new).sub_(old)
        buf.visited[p] |= active
        out = g.sub_(old).add_(mean)  # g is this step's own tensor
        state["t"] = new
        return out

    # -- checkpoints ---------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """Plain-data snapshot (loadable with ``torch.load(weights_only=True)``). The tensors
        are the state's own, not copies (as ``torch.optim``'s state dicts): save them before
        the next step, or copy them."""
        return {
            "format": FORMAT,
            "config": {key: getattr(self, key) for key in _CONFIG_KEYS},
            "shapes": None if self.shapes is None else [list(s) for s in self.shapes],
            "last_step": list(self.last_step),
            "buffers": None if self.buffers is None else self.buffers.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a snapshot; the configuration (except storage options) must match. The
        state goes to the device of the current state (the parameters') if there is one."""
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise ValueError(
                "state must be a dict from PathwiseGradientTransform.state_dict() "
                f"(format {FORMAT!r}; state dicts of earlier versions cannot be resumed)"
            )
        for key in _CONFIG_KEYS:
            saved = state["config"].get(key)
            if saved != getattr(self, key) and not (
                isinstance(saved, float) and math.isclose(saved, getattr(self, key), rel_tol=0)
            ):
                raise ValueError(
                    f"state_dict mismatch for {key}: saved {saved!r}, this transform has "
                    f"{getattr(self, key)!r}"
                )
        device = None if self.buffers is None else self.buffers.device
        self.shapes = None if state["shapes"] is None else [torch.Size(s) for s in state["shapes"]]
        self.buffers = None
        self._stats, self.last_stats = StepStats(self.n_paths), None
        self.last_step = [int(s) for s in state["last_step"]]
        if state["buffers"] is not None:
            self.buffers = PathBuffers.from_state_dict(
                state["buffers"], self.n_paths, self.shapes, self.storage_dtype,
                self.offload_to_cpu, device,
            )  # fmt: skip
