"""Per-path gradient transforms used by SCRAPL: P-Adam and P-SAGA.

SCRAPL (Mitcheltree et al., "SCRAPL: Scattering Transform with Random Paths for Machine
Learning", ICLR 2026) evaluates, at each training step ``k = 1, 2, ...``, the loss of only one
randomly sampled scattering path ``p`` out of ``P``. Gradients from different paths have very
different scales and are individually noisy, so each parameter tensor's gradient is transformed
per path before a plain SGD step:

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
  A running sum per parameter makes each step ``O(numel)`` instead of ``O(P * numel)``.

Gaps: ``step`` is global and may jump (a parameter need not be transformed at every step).
A parameter that gets no gradient on a step is not passed to :meth:`apply` at all (as
``torch.optim`` skips a None grad): its moments, ``tau`` and SAGA entries keep their values,
so its next visit of a path decays by the gap since its own previous update there. The bias
correction by the global ``k`` stays exact: with ``tau = 0`` before the first visit the
weights of the gradients in ``m`` sum to ``1 - beta1 ** (k / P)``.

Shapes: every tensor of state has the shape of the parameter's gradient. Units: with P-Adam the
output is dimensionless; without it the output has the units of the gradient (``grad_mult`` is
then not applied). ``step`` is the 1-based global optimizer step, shared by all parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from scrapl.validation import (
    check_bool,
    check_float,
    check_float_dtype,
    check_int,
    check_positive,
)

_CONFIG_KEYS = ("n_paths", "use_p_adam", "use_p_saga", "grad_mult", "beta1", "beta2", "eps")


class PathwiseGradientTransform:
    """Stateful P-Adam / P-SAGA transform of per-parameter gradients for one sampled path."""

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
        self.clear()

    def clear(self) -> None:
        """Forget all state (moments, SAGA table, running sums, step bookkeeping)."""
        self._adam: dict[tuple[int, int], tuple[Tensor, Tensor, int]] = {}  # (m, v, tau)
        self._table: dict[tuple[int, int], Tensor] = {}
        self._sum: dict[int, Tensor] = {}
        self._count: dict[int, int] = {}
        self._last_step: dict[int, int] = {}
        self._shape: dict[int, tuple[int, ...]] = {}

    def memory_bytes(self) -> int:
        """Bytes held by all state tensors."""
        tensors = [t for m, v, _ in self._adam.values() for t in (m, v)]
        tensors += list(self._table.values()) + list(self._sum.values())
        return sum(t.numel() * t.element_size() for t in tensors)

    def _store(self, x: Tensor, dtype: torch.dtype | None = None) -> Tensor:
        device = torch.device("cpu") if self.offload_to_cpu else x.device
        return x.to(device=device, dtype=dtype or self.storage_dtype or x.dtype, copy=True)

    def _validate(self, grad: Tensor, param_idx: int, path_idx: int, step: int) -> None:
        check_int("param_idx", param_idx, 0)
        check_int("step", step, 1)
        check_int("path_idx", path_idx, 0)
        if path_idx >= self.n_paths:
            raise ValueError(f"path_idx must be in [0, {self.n_paths}), got {path_idx}")
        if not isinstance(grad, Tensor) or not grad.is_floating_point():
            raise TypeError(
                "grad must be a floating-point torch.Tensor, got "
                f"{getattr(grad, 'dtype', type(grad))}"
            )
        shape = self._shape.get(param_idx, tuple(grad.shape))
        if shape != tuple(grad.shape):
            raise ValueError(
                f"grad for param_idx={param_idx} has shape {tuple(grad.shape)}, "
                f"but earlier steps had shape {shape}"
            )
        last = self._last_step.get(param_idx, 0)
        if step == last:
            raise RuntimeError(
                f"apply() called twice for param_idx={param_idx} at step={step}: gradient "
                "accumulation is not supported with P-Adam/P-SAGA (each step's gradient must "
                "come from exactly one path). Call backward() once per step and zero the grads "
                "before the next backward()."
            )
        if step < last:
            raise ValueError(
                f"step must not decrease for param_idx={param_idx}: got "
                f"step={step} after step={last}"
            )

    def apply(self, grad: Tensor, param_idx: int, path_idx: int, step: int) -> Tensor:
        """Transform ``grad`` of parameter ``param_idx`` computed from path ``path_idx``.

        ``step`` is the 1-based optimizer step. Returns a new tensor with ``grad``'s shape,
        dtype and device.
        """
        self._validate(grad, param_idx, path_idx, step)
        return self._apply(grad, param_idx, path_idx, step)

    def apply_all(self, grads: Sequence[Tensor], path_idx: int, step: int) -> list[Tensor]:
        """Apply to every gradient; ``param_idx`` is the position in ``grads``."""
        # Validate everything first so that a bad entry cannot leave state half-updated.
        for i, g in enumerate(grads):
            self._validate(g, i, path_idx, step)
        return [self._apply(g, i, path_idx, step) for i, g in enumerate(grads)]

    def _apply(self, grad: Tensor, i: int, p: int, k: int) -> Tensor:
        self._last_step[i] = k
        self._shape[i] = tuple(grad.shape)
        dev = grad.device
        # Half-precision grads are computed in float32: squaring them would underflow.
        cdt = torch.float64 if grad.dtype == torch.float64 else torch.float32
        g = grad.detach().to(cdt)
        if self.use_p_adam:
            g = g * self.grad_mult
            prev = self._adam.get((p, i))
            tau = prev[2] if prev is not None else 0
            d1 = self.beta1 ** ((k - tau) / self.n_paths)
            d2 = self.beta2 ** ((k - tau) / self.n_paths)
            if prev is None:
                m, v = (1.0 - d1) * g, (1.0 - d2) * (g * g)
            else:
                m = d1 * prev[0].to(dev, cdt) + (1.0 - d1) * g
                v = d2 * prev[1].to(dev, cdt) + (1.0 - d2) * (g * g)
            m_s, v_s = self._store(m), self._store(v)
            self._adam[(p, i)] = (m_s, v_s, k)
            # Compute from the stored (possibly low-precision) moments so that a state_dict
            # round trip and a continuous run see exactly the same numbers.
            bc1 = 1.0 - self.beta1 ** (k / self.n_paths)
            bc2 = 1.0 - self.beta2 ** (k / self.n_paths)
            m, v = m_s.to(dev, cdt), v_s.to(dev, cdt)
            g = (m / bc1) / (self.eps + torch.sqrt(v / bc2))
        if self.use_p_saga:
            old = self._table.get((p, i))
            total = self._sum.get(i)
            count = self._count.get(i, 0)
            out = g.clone()
            if old is not None:
                out -= old.to(dev, cdt)
            if total is not None:
                out += total.to(dev, cdt) / max(1, count)
            new = self._store(g)
            self._table[(p, i)] = new
            # Accumulate the stored values (not g) so the sum always equals the table's sum.
            delta = new.to(dev, cdt) - (old.to(dev, cdt) if old is not None else 0.0)
            self._sum[i] = self._store(
                delta if total is None else total.to(dev, cdt) + delta, dtype=cdt
            )
            self._count[i] = count + (old is None)
            g = out
        # Without any transform g may alias grad; copy so that zeroing grads cannot change it.
        return g.to(grad.dtype, copy=not (self.use_p_adam or self.use_p_saga))

    def state_dict(self) -> dict:
        """Plain-data snapshot (loadable with ``torch.load(weights_only=True)``)."""
        return {
            "config": {key: getattr(self, key) for key in _CONFIG_KEYS},
            "adam": [
                {"path": p, "param": i, "m": m.clone(), "v": v.clone(), "tau": tau}
                for (p, i), (m, v, tau) in self._adam.items()
            ],
            "saga": [{"path": p, "param": i, "t": t.clone()} for (p, i), t in self._table.items()],
            "params": [
                {
                    "param": i,
                    "last_step": s,
                    "count": self._count.get(i, 0),
                    "shape": list(self._shape[i]),
                    "sum": self._sum[i].clone() if i in self._sum else None,
                }
                for i, s in self._last_step.items()
            ],
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a snapshot; the configuration (except storage options) must match."""
        keys = {"config", "adam", "saga", "params"}
        if (
            not isinstance(state, dict)
            or not keys <= state.keys()
            or not isinstance(state["config"], dict)
        ):
            raise ValueError(
                "state must be a dict from PathwiseGradientTransform.state_dict() "
                "with keys 'config', 'adam', 'saga', 'params'"
            )
        for key in _CONFIG_KEYS:
            if state["config"].get(key) != getattr(self, key):
                raise ValueError(
                    f"state_dict mismatch for {key}: saved "
                    f"{state['config'].get(key)!r}, this transform has "
                    f"{getattr(self, key)!r}"
                )
        for entry in state["adam"] + state["saga"]:
            if not 0 <= entry["path"] < self.n_paths:
                raise ValueError(f"state_dict has path {entry['path']} outside [0, {self.n_paths})")
        self.clear()
        for e in state["adam"]:
            self._adam[(e["path"], e["param"])] = (
                self._store(e["m"]),
                self._store(e["v"]),
                e["tau"],
            )
        for e in state["saga"]:
            self._table[(e["path"], e["param"])] = self._store(e["t"])
        for e in state["params"]:
            self._last_step[e["param"]] = e["last_step"]
            self._count[e["param"]] = e["count"]
            self._shape[e["param"]] = tuple(e["shape"])
            if e["sum"] is not None:
                self._sum[e["param"]] = self._store(e["sum"], dtype=e["sum"].dtype)
