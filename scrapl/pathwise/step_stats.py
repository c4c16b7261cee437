"""Per-step statistics of P-Adam / P-SAGA, for watching how stale the P-SAGA table is.

P-SAGA adds to a path's P-Adam output ``ĝ`` the mean of the table of every path's *last*
``ĝ`` and subtracts the path's own entry. Those entries were computed for the network as it
was at their path's previous visit; when the weights move far between visits they describe
a network that no longer exists, and the correction adds bias and noise instead of removing
variance. What tells the two apart, per step ``k`` on path ``p``:

* ``revisit``: 1 when ``p`` has a stored entry (the correction uses it), else 0;
* ``stored_cos``: cosine between the stored entry ``t_p`` and the fresh ``ĝ`` (NaN on a first
  visit): near 1 while the stored gradients stay current, near 0 when they are stale;
* ``stored_age``: ``k`` minus the step at which ``t_p`` was stored (NaN on a first visit);
* ``table_age``: mean age of the entries in the table mean (NaN while it is empty);
* ``table_paths``: the number of paths in the table before this step;
* ``hat_cos``, ``out_cos``: cosine of the step's incoming gradient ``g`` (this path, the
  network as it is now) with ``ĝ`` and with what the step hands to the optimizer: how much of
  the update follows the current gradient rather than the moments and the table, which
  remember earlier steps (1 for plain SGD; about 0.8 for ``sign(g)`` of a Gaussian ``g``);
* ``raw_norm``, ``out_norm``, ``norm_ratio``: the 2-norms of ``ĝ`` (P-Adam's output, or the
  raw gradient without P-Adam) and of what the step hands to the optimizer, and their ratio
  (1 without P-SAGA; above 1 when the correction adds more than it cancels).

All values are 0-d tensors on the state's device, computed with a handful of reductions and
never read back to the host (NaN on a step left out for non-finite gradients). The elements
are those of the parameters that took part in the step. Ages count from the step at which
the statistics were switched on, or from P-Adam's record of the last visit when it has one.
"""

from __future__ import annotations

import torch
from torch import Tensor

NAMES = (
    "revisit",
    "stored_cos",
    "stored_age",
    "table_age",
    "table_paths",
    "hat_cos",
    "out_cos",
    "raw_norm",
    "out_norm",
    "norm_ratio",
)


class StepStats:
    """Keeps the step at which every path's P-SAGA entry was stored, and computes the
    statistics of one step (:data:`NAMES`, module docstring)."""

    def __init__(self, n_paths: int) -> None:
        self.n_paths = n_paths
        self.stored_at: Tensor | None = None  # (n_paths,) float64; NaN: unknown

    def _init(self, tau: Tensor | None, visited: Tensor | None, device) -> Tensor:
        stored_at = torch.full((self.n_paths,), float("nan"), dtype=torch.float64, device=device)
        if tau is not None:  # P-Adam's last update of each path (0: never)
            last = tau.amax(dim=1)
            stored_at = torch.where(last > 0, last, stored_at)
        return stored_at

    def step(
        self,
        *,
        path_idx: int,
        step: int,
        grad: Tensor,
        g_hat: Tensor,
        out: Tensor,
        old: Tensor | None,
        revisited: Tensor | None,
        visited_before: Tensor | None,
        active_flat: Tensor,
        finite: Tensor,
        updated: Tensor,
        tau: Tensor | None,
    ) -> dict[str, Tensor]:
        """The statistics of step ``step`` on path ``path_idx``.

        ``grad``: the incoming gradient (flat); ``g_hat``: P-Adam's output; ``out``: the
        step's result; ``old``: the path's stored entry before the step (None without
        P-SAGA); ``revisited``: 0-d bool, the path had an entry; ``visited_before``:
        ``(n_paths,)`` bool, the paths in the table before the step; ``active_flat``: the
        elements of parameters with a gradient; ``finite``: 0-d bool, the step counts;
        ``updated``: 0-d bool, the path's entry was replaced; ``tau``: P-Adam's last-visit
        steps, to start the ages from.
        """
        dev = g_hat.device
        if self.stored_at is None or self.stored_at.device != dev:
            self.stored_at = self._init(tau, visited_before, dev)
        nan = torch.tensor(float("nan"), dtype=torch.float64, device=dev)
        g = torch.where(active_flat, g_hat, 0.0).double()
        raw_norm = torch.linalg.vector_norm(g)
        o = torch.where(active_flat, out, 0.0).double()
        out_norm = torch.linalg.vector_norm(o)
        x = torch.where(active_flat, grad, 0.0).double()
        x_norm = torch.linalg.vector_norm(x)
        stats = {
            "hat_cos": (x * g).sum() / (x_norm * raw_norm),
            "out_cos": (x * o).sum() / (x_norm * out_norm),
            "raw_norm": raw_norm,
            "out_norm": out_norm,
            "norm_ratio": out_norm / raw_norm,
        }
        if old is None:  # no table: nothing is stale
            stats.update(revisit=nan, stored_cos=nan, stored_age=nan, table_age=nan)
            stats["table_paths"] = nan
        else:
            t = torch.where(active_flat, old, 0.0).double()
            cos = (t * g).sum() / (torch.linalg.vector_norm(t) * raw_norm)
            age = step - self.stored_at
            in_table = visited_before & ~torch.isnan(age)
            n_table = in_table.sum()
            table_age = torch.where(in_table, age, 0.0).sum() / n_table
            stats.update(
                revisit=revisited.double(),
                stored_cos=torch.where(revisited, cos, nan),
                stored_age=torch.where(revisited, age[path_idx], nan),
                table_age=torch.where(n_table > 0, table_age, nan),
                table_paths=visited_before.sum().double(),
            )
        # The entry of this path is now this step's (unless the step was left out).
        stored = self.stored_at[path_idx]
        self.stored_at[path_idx] = torch.where(updated, float(step), stored)
        return {name: torch.where(finite, stats[name], nan) for name in NAMES}
