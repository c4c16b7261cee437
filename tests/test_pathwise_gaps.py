"""P-Adam / P-SAGA against a reference recurrence with gaps (the paper's recurrences).

The steps are global and need not be contiguous for a parameter: a path is revisited after
many steps, and a parameter that gets no gradient on a step (it took no part in the loss)
is skipped on that step, as ``torch.optim`` skips parameters whose ``grad`` is None: its
moments, τ and SAGA table stay as they were, so its next visit of a path decays the moments
by the gap since *its* last update there, while the bias correction uses the global step k.
That is exact whatever the gaps: with τ = 0 before the first visit, the weights of the
gradients in m_p sum to 1 − β1^(k/P), so a constant gradient keeps m̂ = g.
"""

import numpy as np
import pytest
import torch

from scrapl.pathwise.adam_saga import PathwiseGradientTransform

P = 5
SHAPES = {0: (4, 3), 1: (6,)}
MULT, B1, B2, EPS = 1e8, 0.9, 0.999, 1e-8
# (global step, path, parameters with a gradient): gaps, a path revisited after 300 steps,
# parameter 1 skipped on some of its paths' visits.
EVENTS = [
    (1, 2, (0, 1)),
    (2, 4, (0, 1)),
    (3, 2, (0,)),
    (7, 2, (0, 1)),
    (8, 0, (1,)),
    (20, 4, (0, 1)),
    (21, 1, (0,)),
    (321, 2, (0, 1)),
    (322, 0, (0, 1)),
    (400, 4, (1,)),
    (401, 1, (0, 1)),
]


def _event_grads(seed: int = 0) -> list[dict[int, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [{i: rng.standard_normal(SHAPES[i]) * 1e-4 for i in params} for _, _, params in EVENTS]


class Reference:
    """The recurrences of the paper written out per (path, parameter), in float64 numpy."""

    def __init__(self, use_adam: bool, use_saga: bool) -> None:
        self.use_adam, self.use_saga = use_adam, use_saga
        self.m, self.v, self.tau = {}, {}, {}  # keyed by (path, param)
        self.table = {}  # (path, param) -> last P-Adam output

    def step(self, k: int, p: int, i: int, g: np.ndarray) -> np.ndarray:
        if self.use_adam:
            g = g * MULT
            delta = (k - self.tau.get((p, i), 0)) / P
            m = B1**delta * self.m.get((p, i), 0.0) + (1 - B1**delta) * g
            v = B2**delta * self.v.get((p, i), 0.0) + (1 - B2**delta) * g * g
            self.m[(p, i)], self.v[(p, i)], self.tau[(p, i)] = m, v, k
            g = (m / (1 - B1 ** (k / P))) / (EPS + np.sqrt(v / (1 - B2 ** (k / P))))
        if self.use_saga:
            visited = [t for (q, j), t in self.table.items() if j == i]  # Γ for parameter i
            mean = sum(visited) / max(1, len(visited)) if visited else 0.0
            out = g - self.table.get((p, i), 0.0) + mean
            self.table[(p, i)] = g
            g = out
        return g


@pytest.mark.parametrize(
    "use_adam, use_saga", [(True, True), (True, False), (False, True)], ids=["both", "adam", "saga"]
)
def test_matches_reference_with_gaps_and_skipped_parameters(use_adam, use_saga):
    grads = _event_grads()
    ref = Reference(use_adam, use_saga)
    tr = PathwiseGradientTransform(
        P, use_p_adam=use_adam, use_p_saga=use_saga, grad_mult=MULT, beta1=B1, beta2=B2, eps=EPS
    )
    tr.clear([SHAPES[0], SHAPES[1]])
    for (k, p, params), g in zip(EVENTS, grads, strict=True):
        got = tr.apply_all([torch.from_numpy(g[i]) if i in params else None for i in (0, 1)], p, k)
        for i in params:
            expected = ref.step(k, p, i, g[i])
            np.testing.assert_allclose(got[i].numpy(), expected, rtol=1e-9, atol=1e-12)
    # The last visits read state written hundreds of steps earlier.
    tau = tr.state_dict()["buffers"]["tau"]
    taus = set() if tau is None else {int(v) for v in tau.flatten().tolist()}
    assert taus >= ({321, 322, 400, 401} if use_adam else set())


def test_reference_has_teeth():
    """Treating a skipped parameter as a zero gradient, or counting steps per parameter,
    changes the outputs: the test above would notice either mistake."""
    grads = _event_grads()
    exact = Reference(True, True)
    zeros = Reference(True, True)  # a skipped parameter counted as a zero gradient
    outs_exact, outs_zeros = [], []
    for (k, p, params), g in zip(EVENTS, grads, strict=True):
        for i in (0, 1):
            if i in params:
                outs_exact.append(exact.step(k, p, i, g[i]))
                outs_zeros.append(zeros.step(k, p, i, g[i]))
            else:
                zeros.step(k, p, i, np.zeros(SHAPES[i]))
    assert not all(np.allclose(a, b) for a, b in zip(outs_exact, outs_zeros, strict=True))
    # A per-parameter step count (torch.optim.Adam's) instead of the global step.
    own = Reference(True, True)
    n_updates = {0: 0, 1: 0}
    outs_own = []
    for (_, p, params), g in zip(EVENTS, grads, strict=True):
        for i in params:
            n_updates[i] += 1
            outs_own.append(own.step(n_updates[i], p, i, g[i]))
    assert not all(np.allclose(a, b) for a, b in zip(outs_exact, outs_own, strict=True))


@pytest.mark.parametrize("storage_dtype", [None, torch.float64])
def test_constant_gradient_keeps_its_normalised_value_whatever_the_gaps(storage_dtype):
    # Bias correction by the global step is exact: m̂ = g and v̂ = g² on every visit.
    g = torch.tensor([3e-5, -2e-7, 1e-3], dtype=torch.float64)
    tr = PathwiseGradientTransform(P, use_p_saga=False, storage_dtype=storage_dtype)
    first = (g * 1e8) / (1e-8 + (g * 1e8).abs())
    for k in (4, 5, 90, 91, 1000, 5001):
        torch.testing.assert_close(tr.apply_all([g], 3, k)[0], first, rtol=1e-12, atol=0)
