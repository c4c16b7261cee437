import math

import numpy as np
import pytest
import torch

from scrapl.pathwise.adam_saga import PathwiseGradientTransform

P = 4
PATHS = [0, 2, 0, 1, 3, 3, 0, 2, 1, 1, 0, 2]
SHAPES = [(3, 2), (5,)]


def _grads(n_steps: int, seed: int = 0, dtype: torch.dtype = torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return [
        [torch.randn(s, generator=gen, dtype=torch.float64).to(dtype) * 1e-3 for s in SHAPES]
        for _ in range(n_steps)
    ]


def _reference(grads, paths, use_adam, use_saga, mult=1e8, b1=0.9, b2=0.999, eps=1e-8):
    """Naive dense re-implementation of the recurrences in the SCRAPL paper."""
    outs = []
    m = [np.zeros((P, *s)) for s in SHAPES]
    v = [np.zeros((P, *s)) for s in SHAPES]
    tau = [np.zeros(P) for _ in SHAPES]
    table = [np.zeros((P, *s)) for s in SHAPES]
    seen = [np.zeros(P, dtype=bool) for _ in SHAPES]
    for k, (step_grads, p) in enumerate(zip(grads, paths, strict=True), start=1):
        step_out = []
        for i, g in enumerate(step_grads):
            g = g.numpy().astype(np.float64)
            if use_adam:
                g = g * mult
                delta = (k - tau[i][p]) / P
                m[i][p] = b1**delta * m[i][p] + (1 - b1**delta) * g
                v[i][p] = b2**delta * v[i][p] + (1 - b2**delta) * g * g
                tau[i][p] = k
                m_hat = m[i][p] / (1 - b1 ** (k / P))
                v_hat = v[i][p] / (1 - b2 ** (k / P))
                g = m_hat / (eps + np.sqrt(v_hat))
            if use_saga:
                n_seen = int(seen[i].sum())
                mean = table[i][seen[i]].sum(axis=0) / max(1, n_seen)
                old = table[i][p] if seen[i][p] else 0.0
                out = g - old + mean
                table[i][p] = g
                seen[i][p] = True
                g = out
            step_out.append(g)
        outs.append(step_out)
    return outs


@pytest.mark.parametrize("use_adam", [True, False])
@pytest.mark.parametrize("use_saga", [True, False])
def test_matches_naive_reference(use_adam, use_saga):
    grads = _grads(len(PATHS))
    ref = _reference(grads, PATHS, use_adam, use_saga)
    tr = PathwiseGradientTransform(P, use_p_adam=use_adam, use_p_saga=use_saga)
    for k, (step_grads, p) in enumerate(zip(grads, PATHS, strict=True), start=1):
        outs = tr.apply_all(step_grads, path_idx=p, step=k)
        for out, r, g in zip(outs, ref[k - 1], step_grads, strict=True):
            assert out.dtype == torch.float64 and out.shape == g.shape
            np.testing.assert_allclose(out.numpy(), r, rtol=1e-6, atol=1e-12)


def test_reference_is_not_trivial():
    # Guard against the reference test passing because all variants coincide.
    grads = _grads(len(PATHS))
    full = _reference(grads, PATHS, True, True)[-1][0]
    adam = _reference(grads, PATHS, True, False)[-1][0]
    saga = _reference(grads, PATHS, False, True)[-1][0]
    assert not np.allclose(full, adam) and not np.allclose(saga, grads[-1][0].numpy())


def test_skipped_steps_decay_moments():
    # Same gradients, but the second visit happens after a gap: the older m gets less weight.
    g1, g2 = torch.tensor([1e-3], dtype=torch.float64), torch.tensor([-1e-3], dtype=torch.float64)
    outs = []
    for k2 in (2, 40):
        tr = PathwiseGradientTransform(1, use_p_saga=False)
        tr.apply_all([g1], 0, 1)
        outs.append(tr.apply_all([g2], 0, k2)[0].item())
    assert outs[1] < outs[0] < 0


def test_first_visit_is_sign_and_grad_mult():
    g = torch.tensor([1e-12, -2e-12, 3.0, 0.0])
    tr = PathwiseGradientTransform(P, use_p_saga=False)
    out = tr.apply_all([g], 1, 5)[0]
    gm = g.double() * 1e8
    expected = gm / (1e-8 + gm.abs())
    torch.testing.assert_close(out.double(), expected, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(out, torch.sign(g), rtol=0, atol=1e-3)
    # Without the multiplier eps swamps the tiny gradient.
    tr1 = PathwiseGradientTransform(P, use_p_saga=False, grad_mult=1.0)
    out1 = tr1.apply_all([g], 1, 5)[0]
    assert abs(out1[0].item()) < 1e-3 and abs(out1[2].item() - 1.0) < 1e-6


def test_grad_mult_not_applied_without_adam():
    g1, g2 = torch.tensor([1e-12, 2.0]), torch.tensor([3e-12, -1.0])
    tr = PathwiseGradientTransform(P, use_p_adam=False, grad_mult=1e8)
    assert torch.equal(tr.apply_all([g1], 0, 1)[0], g1)
    assert torch.equal(tr.apply_all([g2], 1, 2)[0], g2 + g1)
    off = PathwiseGradientTransform(P, use_p_adam=False, use_p_saga=False)
    out = off.apply_all([g1], 0, 1)[0]
    assert torch.equal(out, g1) and out.data_ptr() != g1.data_ptr()
    assert off.memory_bytes() == 0


def test_half_precision_grad_keeps_dtype():
    g = torch.tensor([1e-4, -2e-4], dtype=torch.float16)
    out = PathwiseGradientTransform(P).apply_all([g], 0, 1)[0]
    assert out.dtype == torch.float16
    torch.testing.assert_close(out, torch.sign(g), rtol=0, atol=1e-3)


def test_gradient_accumulation_refused():
    tr = PathwiseGradientTransform(P)
    g = torch.ones(3)
    tr.apply_all([g, g], 0, 1)
    tr.apply_all([g, None], 0, 2)
    tr.apply_all([None, g], 0, 2)  # another parameter at the same step is fine
    with pytest.raises(RuntimeError, match="gradient accumulation is not supported"):
        tr.apply_all([g, None], 0, 2)
    with pytest.raises(RuntimeError, match="backward"):
        tr.apply_all([g, g], 0, 2)


def test_apply_all_is_atomic_on_error():
    tr = PathwiseGradientTransform(P)
    tr.apply_all([torch.ones(4), torch.ones(2)], 0, 3)
    tr.apply_all([None, torch.ones(2)], 0, 3 + 1)
    before = tr.memory_bytes()
    with pytest.raises(ValueError, match="step"):
        tr.apply_all([torch.ones(4), torch.ones(2)], path_idx=1, step=2)
    assert tr.memory_bytes() == before
    tr.apply_all([torch.ones(4), torch.ones(2)], path_idx=1, step=5)


def _run(tr, grads, paths, start):
    steps = enumerate(zip(grads, paths, strict=True), start=start)
    return [tr.apply_all(g, p, k) for k, (g, p) in steps]


@pytest.mark.parametrize("storage_dtype", [None, torch.bfloat16])
def test_state_dict_round_trip(tmp_path, storage_dtype):
    grads = _grads(6, dtype=torch.float32)
    paths = [0, 2, 0, 2, 1, 0]
    kw = dict(storage_dtype=storage_dtype)
    tr = PathwiseGradientTransform(P, **kw)
    _run(tr, grads[:3], paths[:3], 1)
    torch.save(tr.state_dict(), tmp_path / "state.pt")
    expected = _run(tr, grads[3:], paths[3:], 4)

    fresh = PathwiseGradientTransform(P, **kw)
    fresh.load_state_dict(torch.load(tmp_path / "state.pt", weights_only=True))
    got = _run(fresh, grads[3:], paths[3:], 4)
    for e_step, g_step in zip(expected, got, strict=True):
        for e, g in zip(e_step, g_step, strict=True):
            assert torch.equal(e, g)
    assert fresh.memory_bytes() == tr.memory_bytes()
    # Step bookkeeping survives too: step 6 was already done.
    with pytest.raises(RuntimeError, match="accumulation"):
        fresh.apply_all([grads[0][0], None], 0, 6)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_paths": 5}, "n_paths"),
        ({"use_p_adam": False}, "use_p_adam"),
        ({"use_p_saga": False}, "use_p_saga"),
        ({"beta1": 0.5}, "beta1"),
    ],
)
def test_load_state_dict_mismatch(kwargs, name):
    state = PathwiseGradientTransform(P).state_dict()
    other = PathwiseGradientTransform(**{"n_paths": P, **kwargs})
    with pytest.raises(ValueError, match=name):
        other.load_state_dict(state)
    with pytest.raises(ValueError, match="state_dict"):
        other.load_state_dict({"config": {}})


def test_bfloat16_storage_halves_memory():
    grads = [[torch.randn(64, 32) * 1e-3] for _ in range(8)]
    paths = [0, 1, 2, 3, 0, 1, 2, 3]
    full = PathwiseGradientTransform(P)
    half = PathwiseGradientTransform(P, storage_dtype=torch.bfloat16)
    out_f, out_h = _run(full, grads, paths, 1), _run(half, grads, paths, 1)
    # m, v and table halve; only the float32 running sum per parameter stays.
    ratio = half.memory_bytes() / full.memory_bytes()
    assert 0.5 <= ratio < 0.6
    # Values: step by step against a float64 reference in tests/test_pathwise_bfloat16.py.
    for f, h in zip(out_f, out_h, strict=True):
        assert h[0].dtype == f[0].dtype == torch.float32


def test_offload_to_cpu_matches():
    grads = _grads(len(PATHS), dtype=torch.float32)
    a = PathwiseGradientTransform(P)
    b = PathwiseGradientTransform(P, offload_to_cpu=True)
    for x, y in zip(_run(a, grads, PATHS, 1), _run(b, grads, PATHS, 1), strict=True):
        assert all(torch.equal(u, w) for u, w in zip(x, y, strict=True))
    assert all(e["m"].device.type == "cpu" for e in b.state_dict()["buffers"]["paths"])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_offload_to_cpu_cuda():
    grads = [[g.cuda() for g in step] for step in _grads(len(PATHS), dtype=torch.float32)]
    a = PathwiseGradientTransform(P)
    b = PathwiseGradientTransform(P, offload_to_cpu=True)
    for x, y in zip(_run(a, grads, PATHS, 1), _run(b, grads, PATHS, 1), strict=True):
        for u, w in zip(x, y, strict=True):
            assert w.device.type == "cuda"
            torch.testing.assert_close(u, w, rtol=1e-6, atol=1e-6)
    state = b.state_dict()["buffers"]
    assert all(e["t"].device.type == "cpu" and e["t"].is_pinned() for e in state["paths"])
    assert all(e["m"].device.type == "cuda" for e in a.state_dict()["buffers"]["paths"])


def test_lazy_allocation_and_clear():
    tr = PathwiseGradientTransform(P)
    assert tr.memory_bytes() == 0
    g = torch.ones(10)
    sizes = []
    for k, p in enumerate([0, 0, 1, 1, 2], start=1):
        tr.apply_all([g], p, k)
        sizes.append(tr.memory_bytes())
    per_path = 3 * 10 * 4  # m, v, SAGA entry in float32
    assert sizes == [
        per_path + 40,
        per_path + 40,
        2 * per_path + 40,
        2 * per_path + 40,
        3 * per_path + 40,
    ]
    tr.clear()
    assert tr.memory_bytes() == 0 and tr.state_dict()["buffers"] is None
    tr.apply_all([g], 0, 1)  # clear also resets the step bookkeeping


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"n_paths": 0}, ValueError, "n_paths"),
        ({"n_paths": 2.0}, TypeError, "n_paths"),
        ({"n_paths": True}, TypeError, "n_paths"),
        ({"use_p_adam": 1}, TypeError, "use_p_adam"),
        ({"use_p_saga": "yes"}, TypeError, "use_p_saga"),
        ({"offload_to_cpu": None}, TypeError, "offload_to_cpu"),
        ({"grad_mult": 0.0}, ValueError, "grad_mult"),
        ({"grad_mult": math.inf}, ValueError, "grad_mult"),
        ({"grad_mult": math.nan}, ValueError, "grad_mult"),
        ({"grad_mult": "1e8"}, TypeError, "grad_mult"),
        ({"beta1": 1.0}, ValueError, r"beta1 must be in \[0.0, 1.0\)"),
        ({"beta1": -0.1}, ValueError, "beta1"),
        ({"beta2": 1.5}, ValueError, "beta2"),
        ({"eps": 0.0}, ValueError, "eps"),
        ({"eps": -1e-8}, ValueError, "eps"),
        ({"storage_dtype": torch.int32}, TypeError, "storage_dtype"),
        ({"storage_dtype": "bfloat16"}, TypeError, "storage_dtype"),
    ],
)
def test_constructor_validation(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        PathwiseGradientTransform(**{"n_paths": P, **kwargs})


def test_apply_validation():
    tr = PathwiseGradientTransform(P)
    g = torch.ones(3)
    with pytest.raises(ValueError, match="step"):
        tr.apply_all([g], 0, 0)
    with pytest.raises(ValueError, match=r"path_idx must be in \[0, 4\)"):
        tr.apply_all([g], 4, 1)
    with pytest.raises(ValueError, match="path_idx"):
        tr.apply_all([g], -1, 1)
    with pytest.raises(TypeError, match="grad"):
        tr.apply_all([torch.ones(3, dtype=torch.int64)], 0, 1)
    with pytest.raises(TypeError, match="grads must be a list"):
        tr.apply_all(g, 0, 1)
    with pytest.raises(ValueError, match="first call must give every gradient"):
        tr.apply_all([g, None], 0, 1)
    tr.apply_all([g], 0, 5)
    with pytest.raises(ValueError, match="step must not decrease"):
        tr.apply_all([g], 1, 4)
    with pytest.raises(ValueError, match="shape"):
        tr.apply_all([torch.ones(4)], 1, 6)
    with pytest.raises(ValueError, match="grads must hold 1 entries"):
        tr.apply_all([g, g], 1, 6)
