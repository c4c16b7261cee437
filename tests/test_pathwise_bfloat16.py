"""P-Adam / P-SAGA with bfloat16 storage, step by step against a float64 reference.

A whole bfloat16 run cannot be compared with a float64 run element by element with a tight
tolerance: each stored value is rounded (2**-8 relative), the rounding errors are carried
from visit to visit, and P-SAGA's ``g - t[p] + mean`` cancels. Each *step* can: given the
state the implementation stored before the step, the float64 recurrence rounded to bfloat16
must give the state it stores after it, and its output must follow from that state.

Error analysis. The implementation computes in float32 (relative error a few 2**-24 per
value); rounding a float32 value and the float64 value of the same expression to bfloat16
gives the same number unless a rounding boundary lies between them, and then they differ by
one bfloat16 spacing (at most 2**-7 of the value). Such straddles have a probability of about
2**-24 * few / 2**-8, so nearly every stored element must match exactly and none by more than
one spacing. Outputs are computed in float32 from the stored state: a handful of roundings,
bounded here by 2**-20 relative (P-Adam) or 2**-20 of the sum of the magnitudes of P-SAGA's
three terms.
"""

import pytest
import torch

from scrapl.pathwise.adam_saga import PathwiseGradientTransform

P = 3
SHAPES = [(40, 30), (50,)]
NUMEL = sum(torch.Size(s).numel() for s in SHAPES)
PATHS = [0, 1, 0, 2, 2, 0, 1, 1, 0, 2, 0, 0]
MULT, B1, B2, EPS = 1e8, 0.9, 0.999, 1e-8


def _grads(step: int) -> list[torch.Tensor]:
    # Varying signs and five decades of magnitude; a per-step part so visits differ.
    gen = torch.Generator().manual_seed(step)
    return [
        torch.randn(s, generator=gen) * 10.0 ** torch.randint(-6, -1, s, generator=gen)
        for s in SHAPES
    ]


def _flat(ts) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in ts]).double()


def _snapshot(tr: PathwiseGradientTransform) -> dict:
    b = tr.state_dict()["buffers"]
    if b is None:
        return {"paths": {}, "tau": torch.zeros(P, len(SHAPES), dtype=torch.float64),
                "visited": torch.zeros(P, len(SHAPES), dtype=torch.bool),
                "total": torch.zeros(NUMEL)}  # fmt: skip
    return {
        "paths": {
            e["path"]: {k: v.clone() for k, v in e.items() if k != "path"} for e in b["paths"]
        },  # fmt: skip
        "tau": None if b["tau"] is None else b["tau"].clone(),
        "visited": None if b["visited"] is None else b["visited"].clone(),
        "total": None if b["total"] is None else b["total"].clone(),
    }


def _per_element(per_param: torch.Tensor) -> torch.Tensor:
    sizes = [torch.Size(s).numel() for s in SHAPES]
    return torch.repeat_interleave(per_param, torch.tensor(sizes))


def _bf16(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.bfloat16).double()


def _check_stored(got: torch.Tensor, want: torch.Tensor, what: str) -> None:
    got = got.double()
    assert torch.equal(_bf16(got), got), f"{what} is not stored in bfloat16"
    diff = (got - want).abs()
    assert (diff <= 2.0**-7 * want.abs()).all(), f"{what}: more than one bfloat16 spacing off"
    assert (diff != 0).double().mean() <= 0.01, f"{what}: too many rounding differences"


def _zeros_if_new(state: dict, path: int, key: str) -> torch.Tensor:
    entry = state["paths"].get(path)
    return torch.zeros(NUMEL, dtype=torch.float64) if entry is None else entry[key].double()


def _adam_step(before, after, g, p, k):
    """The stored moments against the rounded float64 recurrence; the output they imply."""
    age = _per_element((k - before["tau"][p]) / P)
    m = B1**age * _zeros_if_new(before, p, "m") + (1 - B1**age) * g * MULT
    v = B2**age * _zeros_if_new(before, p, "v") + (1 - B2**age) * (g * MULT) ** 2
    _check_stored(after["paths"][p]["m"], _bf16(m), f"step {k}: m")
    _check_stored(after["paths"][p]["v"], _bf16(v), f"step {k}: v")
    m_st, v_st = after["paths"][p]["m"].double(), after["paths"][p]["v"].double()
    return (m_st / (1 - B1 ** (k / P))) / (EPS + (v_st / (1 - B2 ** (k / P))).sqrt())


@pytest.mark.parametrize("use_adam, use_saga", [(True, False), (False, True), (True, True)])
def test_each_bfloat16_step_is_the_rounded_float64_recurrence(use_adam, use_saga):
    tr = PathwiseGradientTransform(P, use_p_adam=use_adam, use_p_saga=use_saga,
                                   storage_dtype=torch.bfloat16)  # fmt: skip
    history = torch.zeros(NUMEL, dtype=torch.float64)
    for k, p in enumerate(PATHS, start=1):
        before = _snapshot(tr)
        grads = _grads(k)
        out = _flat(tr.apply_all(grads, p, k))
        after = _snapshot(tr)
        g = _flat(grads)
        g_hat = _adam_step(before, after, g, p, k) if use_adam else g
        if not use_saga:
            torch.testing.assert_close(out, g_hat, rtol=2.0**-20, atol=0)
            continue
        old = _zeros_if_new(before, p, "t")
        count = _per_element(before["visited"].sum(dim=0).clamp_min(1).double())
        mean = before["total"].double() / count
        want = g_hat - old + mean
        bound = 2.0**-20 * (g_hat.abs() + old.abs() + mean.abs())
        assert ((out - want).abs() <= bound).all(), f"step {k}: P-SAGA output"
        _check_stored(after["paths"][p]["t"], _bf16(g_hat), f"step {k}: t")
        # The running sum is the sum of the stored entries: it accumulates the stored
        # values (not the float32 ones), so it only carries the float32 roundings of its
        # own two additions per step, each at most 2**-24 of the magnitudes it has summed.
        history = history + after["paths"][p]["t"].double().abs() + old.abs()
        table = sum(e["t"].double() for e in after["paths"].values())
        drift = (after["total"].double() - table).abs()
        assert (drift <= k * 2.0**-23 * history).all(), f"step {k}: P-SAGA running sum"


def test_the_step_check_has_teeth():
    # A transform with another β1 is caught by the same check of the stored moments.
    tr = PathwiseGradientTransform(P, use_p_saga=False, storage_dtype=torch.bfloat16, beta1=0.8)
    before = _snapshot(tr)
    for k, p in enumerate(PATHS[:4], start=1):
        before = _snapshot(tr)
        tr.apply_all(_grads(k), p, k)
    with pytest.raises(AssertionError, match="m"):
        _adam_step(before, _snapshot(tr), _flat(_grads(4)), PATHS[3], 4)
