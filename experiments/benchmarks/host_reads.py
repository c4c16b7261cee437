"""Reads of device values by the host, counted on any machine (a CPU included).

On a GPU every read of a tensor's value by Python (``.item()``, ``.tolist()``, ``bool(t)``,
``int(t)``, ``.cpu()``, formatting, ``torch.equal``, ``nonzero``...) waits for the device to
finish everything queued before it: a host sync, which starves the GPU when it happens many
times a step. :class:`HostReads` counts the reads of tensors that would live on the device,
on a CPU: the tensors given to :meth:`HostReads.track` (the batch, the weights) and
everything computed from them, plus every tensor made with an explicit ``device=`` (code
passes the device it computes on). ``.to(device)`` is not counted (on a CPU it cannot tell
the host from the device; ``.cpu()`` is), and neither is a check that the code makes only
for CPU inputs but that reads a CPU tensor here (an upper bound, then). Reads of other
tensors (host-side tensors, e.g. those of ``torch.Generator`` draws on the CPU) are free on
a GPU too and are not counted. It is a
``TorchFunctionMode``: it sees the torch calls made from Python (this project's code, the
library's, Lightning's), not those inside C++ kernels (a kernel's own syncs, e.g. in a
backward pass, are not seen).
"""

from __future__ import annotations

import traceback
import weakref
from collections import Counter
from collections.abc import Iterable
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

__all__ = ["HostReads", "READ_NAMES"]

# Tensor methods and torch functions that hand a tensor's values to Python.
READ_NAMES = frozenset(
    {
        "__bool__", "__int__", "__float__", "__index__", "__format__", "__array__", "__repr__",
        "item", "tolist", "numpy", "cpu", "equal", "nonzero", "unique", "masked_select",
        "allclose", "argwhere",
    }
)  # fmt: skip


class HostReads(TorchFunctionMode):
    """Count host reads of device tensors (see the module docstring).

    ``reads``: one ``(operation, "file:line")`` per read, the line being the first frame
    outside torch; :meth:`by_site` sums them per site.
    """

    def __init__(self) -> None:
        super().__init__()
        self._device: dict[int, weakref.ref] = {}
        self.reads: list[tuple[str, str]] = []

    def track(self, tensors: Iterable[Any]) -> None:
        """Mark tensors (nested in lists, dicts, ...) as device tensors."""
        for t in tree_flatten(list(tensors))[0]:
            if isinstance(t, torch.Tensor):
                self._mark(t)

    def _mark(self, t: torch.Tensor) -> None:
        key = id(t)
        if key not in self._device:
            self._device[key] = weakref.ref(t, lambda _, key=key: self._device.pop(key, None))

    def _on_device(self, t: object) -> bool:
        ref = self._device.get(id(t)) if isinstance(t, torch.Tensor) else None
        return ref is not None and ref() is t

    @staticmethod
    def _site() -> str:
        for frame in reversed(traceback.extract_stack()[:-2]):
            if "/torch/" not in frame.filename and "host_reads.py" not in frame.filename:
                return f"{'/'.join(frame.filename.split('/')[-3:])}:{frame.lineno}"
        return "?"

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", str(func))
        inputs = tree_flatten((args, kwargs))[0]
        on_device = any(self._on_device(a) for a in inputs)
        if on_device and name in READ_NAMES:
            self.reads.append((name, self._site()))
            return func(*args, **kwargs)
        out = func(*args, **kwargs)
        if on_device or kwargs.get("device") is not None:
            for t in tree_flatten(out)[0]:
                if isinstance(t, torch.Tensor):
                    self._mark(t)
        return out

    def by_site(self) -> Counter:
        return Counter(f"{name} at {site}" for name, site in self.reads)


class StepHostReads:
    """A Lightning callback (duck-typed: no Lightning import here) counting the host reads of
    every training step, from ``on_train_batch_start`` to ``on_train_batch_end`` (the step,
    backward, gradient transforms and optimizer step; Lightning's logging of the step's
    metrics comes after). ``host_keys``: batch keys that the module keeps on the host.
    ``per_step``: one :class:`HostReads` per step."""

    def __init__(self, host_keys: Iterable[str] = ()) -> None:
        self.per_step: list[HostReads] = []
        self.host_keys = tuple(host_keys)
        self._mode: HostReads | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._mode = HostReads()
        if isinstance(batch, dict):  # the keys the module keeps on the host are host tensors
            batch = [v for k, v in batch.items() if k not in self.host_keys]
        self._mode.track([batch, list(pl_module.parameters()), list(pl_module.buffers())])
        self._mode.__enter__()

    def on_after_backward(self, trainer, pl_module) -> None:
        if self._mode is not None:
            self._mode.track([p.grad for p in pl_module.parameters() if p.grad is not None])

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self._mode is not None:
            self._mode.__exit__(None, None, None)
            self.per_step.append(self._mode)
            self._mode = None
