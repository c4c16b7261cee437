"""The storage of P-Adam / P-SAGA state: flat per-path buffers and per-parameter bookkeeping.

All attached parameters form one flat vector of ``numel`` elements (their gradients are
concatenated in order). Per visited path ``p``: ``m``, ``v`` (P-Adam) and ``t`` (the P-SAGA
table entry), each a flat buffer in the storage dtype, allocated at the path's first visit.
Per (path, parameter): ``tau`` (step of the last update, float64) and ``visited`` (a SAGA entry
exists). Per element: ``total`` (the SAGA table's running sum, in the computation dtype).
``skipped`` counts steps left out for non-finite gradients.

Where the state lives: on the parameters' device; with ``offload`` the per-path buffers stay in
CPU memory (pinned when the device is a GPU) and one path's buffers are copied over for its step
and back after it, without blocking the host: :meth:`PathBuffers.prefetch` starts the copy on a
side stream as soon as the path is known (the forward pass), and the write-back is ordered
before the next copy of the same path by an event.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

PER_PATH = {"adam": ("m", "v"), "saga": ("t",)}


class PathBuffers:
    """Flat P-Adam / P-SAGA state of ``n_paths`` paths over parameters of ``shapes``."""

    def __init__(
        self,
        n_paths: int,
        shapes: Sequence[torch.Size],
        device: torch.device,
        compute_dtype: torch.dtype,
        storage_dtype: torch.dtype | None,
        offload: bool,
        with_adam: bool,
        with_saga: bool,
    ) -> None:
        self.n_paths = n_paths
        self.shapes = list(shapes)
        self.sizes = [s.numel() for s in self.shapes]
        self.numel = sum(self.sizes)
        self.device = torch.device(device)
        self.cdt = compute_dtype
        self.sdt = storage_dtype or compute_dtype
        self.offload = offload
        self.names = (PER_PATH["adam"] if with_adam else ()) + (
            PER_PATH["saga"] if with_saga else ()
        )
        n = len(self.shapes)
        dev = self.device
        self.sizes_t = torch.tensor(self.sizes, device=dev)
        self.tau = torch.zeros(n_paths, n, dtype=torch.float64, device=dev) if with_adam else None
        self.visited = torch.zeros(n_paths, n, dtype=torch.bool, device=dev) if with_saga else None
        self.total = torch.zeros(self.numel, dtype=self.cdt, device=dev) if with_saga else None
        self.skipped = torch.zeros((), dtype=torch.int64, device=dev)
        self.paths: dict[int, dict[str, Tensor]] = {}
        self._prefetched: tuple[int, dict[str, Tensor], object] | None = None
        self._written: dict[int, object] = {}  # path -> event after its last write-back

    # -- placement -------------------------------------------------------------------------

    def _home(self) -> torch.device:
        return torch.device("cpu") if self.offload else self.device

    def _pinned(self) -> bool:
        return self.offload and self.device.type == "cuda"

    def to_device(self, device: torch.device) -> None:
        """Move everything to ``device`` (per-path buffers to CPU memory when offloading)."""
        if device == self.device:
            return
        self.device = device
        for name in ("sizes_t", "tau", "visited", "total", "skipped"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, value.to(device))
        self._prefetched, self._written = None, {}
        home = self._home()
        for path, bufs in self.paths.items():
            self.paths[path] = {k: self._place(v, home) for k, v in bufs.items()}

    def _place(self, t: Tensor, home: torch.device) -> Tensor:
        t = t.to(home)
        return t.pin_memory() if self._pinned() and not t.is_pinned() else t

    # -- flat views ------------------------------------------------------------------------

    def flatten(self, grads: Sequence[Tensor | None], dtype: torch.dtype) -> Tensor:
        """The gradients as one flat vector of ``dtype`` (zeros where a gradient is None)."""
        parts = [
            g.reshape(-1).to(dtype)
            if g is not None
            else torch.zeros(n, dtype=dtype, device=self.device)
            for g, n in zip(grads, self.sizes, strict=True)
        ]
        return torch.cat(parts)

    def unflatten(self, flat: Tensor, like: Sequence[Tensor | None]) -> list[Tensor | None]:
        """Per-parameter tensors of ``flat`` in each gradient's shape and dtype (None where
        the gradient is None)."""
        parts = flat.split(self.sizes)
        return [
            None if g is None else part.view(g.shape).to(g.dtype)
            for part, g in zip(parts, like, strict=True)
        ]

    def expand(self, per_param: Tensor) -> Tensor:
        """A per-parameter vector repeated over each parameter's elements (flat).

        One concatenation of broadcast views: a single kernel, and several times faster on a
        CPU than ``repeat_interleave``, which builds and gathers an index."""
        views = per_param.unbind(0)
        return torch.cat([v.expand(n) for v, n in zip(views, self.sizes, strict=True)])

    def round_to_storage(self, x: Tensor) -> Tensor:
        """``x`` rounded to the storage dtype, in the computation dtype."""
        return x if self.sdt == x.dtype else x.to(self.sdt).to(x.dtype)

    # -- per-path buffers ---------------------------------------------------------------------

    def prefetch(self, path: int) -> None:
        """Start copying an offloaded path's buffers to the GPU on a side stream."""
        if not self._pinned() or path not in self.paths:
            return
        side = _side_stream(self.device)
        with torch.cuda.stream(side):
            if path in self._written:
                side.wait_event(self._written[path])
            bufs = {k: v.to(self.device, non_blocking=True) for k, v in self.paths[path].items()}
            event = torch.cuda.Event()
            event.record(side)
        self._prefetched = (path, bufs, event)

    def load(self, path: int, dtype: torch.dtype) -> dict[str, Tensor]:
        """The path's buffers on the device in ``dtype`` (zeros before its first visit): the
        stored tensors themselves when they are already there in ``dtype``."""
        if path not in self.paths:  # one tensor each: the step updates them in place
            return {k: torch.zeros(self.numel, dtype=dtype, device=self.device) for k in self.names}
        if self._prefetched is not None and self._prefetched[0] == path:
            _, bufs, event = self._prefetched
            torch.cuda.current_stream(self.device).wait_event(event)
            for v in bufs.values():
                v.record_stream(torch.cuda.current_stream(self.device))
        else:
            bufs = {k: v.to(self.device, non_blocking=True) for k, v in self.paths[path].items()}
        self._prefetched = None
        return {k: v.to(dtype) for k, v in bufs.items()}

    def store(self, path: int, state: dict[str, Tensor]) -> None:
        """Write the path's new buffers back (allocating them at its first visit)."""
        if not self.offload:  # the new tensors become the state: no copy
            self.paths[path] = {k: state[k].to(self.sdt) for k in self.names}
            return
        if path not in self.paths:
            empty = torch.empty(self.numel, dtype=self.sdt, device="cpu")
            self.paths[path] = {k: self._place(empty.clone(), self._home()) for k in self.names}
        for k, dst in self.paths[path].items():
            dst.copy_(state[k], non_blocking=True)
        if self._pinned():
            event = torch.cuda.Event()
            event.record(torch.cuda.current_stream(self.device))
            self._written[path] = event

    def _wait_for_writes(self) -> None:
        for event in self._written.values():
            event.synchronize()
        self._written = {}

    def memory_bytes(self) -> int:
        tensors = [t for bufs in self.paths.values() for t in bufs.values()]
        tensors += [t for t in (self.total,) if t is not None]
        return sum(t.numel() * t.element_size() for t in tensors)

    # -- checkpoints ---------------------------------------------------------------------------

    def state_dict(self) -> dict:
        self._wait_for_writes()  # offloaded write-backs complete before anyone reads them
        return {
            "compute_dtype": str(self.cdt).removeprefix("torch."),
            "names": list(self.names),
            "paths": [{"path": p, **bufs} for p, bufs in sorted(self.paths.items())],
            "tau": self.tau,
            "visited": self.visited,
            "total": self.total,
            "skipped": self.skipped,
        }

    @classmethod
    def from_state_dict(
        cls,
        state: dict,
        n_paths: int,
        shapes: Sequence[torch.Size],
        storage_dtype: torch.dtype | None,
        offload: bool,
        device: torch.device | None,
    ) -> PathBuffers:
        names = tuple(state["names"])
        first = next((t for t in (state["tau"], state["visited"]) if t is not None), None)
        device = device or (first.device if first is not None else torch.device("cpu"))
        buf = cls(
            n_paths,
            shapes,
            device,
            getattr(torch, state["compute_dtype"]),
            storage_dtype,
            offload,
            with_adam="m" in names,
            with_saga="t" in names,
        )
        for name in ("tau", "visited", "total", "skipped"):
            if getattr(buf, name) is not None:
                getattr(buf, name).copy_(state[name])
        home = buf._home()
        for entry in state["paths"]:
            path = int(entry["path"])
            if not 0 <= path < n_paths:
                raise ValueError(f"state_dict has path {path} outside [0, {n_paths})")
            buf.paths[path] = {k: buf._place(entry[k].to(buf.sdt), home) for k in names}
        return buf


_SIDE_STREAMS: dict[torch.device, object] = {}


def _side_stream(device: torch.device):
    if device not in _SIDE_STREAMS:
        _SIDE_STREAMS[device] = torch.cuda.Stream(device)
    return _SIDE_STREAMS[device]
