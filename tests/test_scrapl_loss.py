"""Tests of the public SCRAPLLoss API: logging, sampling, values, P-Adam hooks, resuming, errors."""

import copy
import logging
from collections import Counter, defaultdict

import numpy as np
import pytest
import torch
from torch import nn

from scrapl import JTFSLoss, SCRAPLLoss
from scrapl.pathwise.adam_saga import PathwiseGradientTransform

LOGGER = "scrapl.scrapl_loss"
# 14 paths, N = 1024: the cheapest configuration, used wherever the path count does not matter.
SMALL = dict(shape=1024, J=4, Q1=2, Q2=1, J_fr=2, Q_fr=1)
N_SMALL = 1024
# 28 paths, N = 4096.
MED = dict(shape=4096, J=6, Q1=4, Q2=1, J_fr=2, Q_fr=1)
N_MED = 4096


def _signals(shape, seed, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype)


def _readme_model(n: int, seed: int = 0) -> nn.Module:
    """The toy model of the README (5 parameter tensors), for signals of length n."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(n, 8), nn.PReLU(), nn.Linear(8, n), nn.Tanh())


def _grads(model: nn.Module) -> list[torch.Tensor]:
    return [p.grad.detach().clone() for p in model.parameters()]


@pytest.fixture(scope="module")
def med_loss():
    """A 28-path loss used only for stateless checks (values, errors)."""
    return SCRAPLLoss(**MED, seed=0)


@pytest.fixture(scope="module")
def small_loss():
    """A 14-path loss used only for stateless checks (values, errors)."""
    return SCRAPLLoss(**SMALL, seed=0)


@pytest.fixture(scope="module")
def med_xy():
    return _signals((2, 1, N_MED), 1), _signals((2, 1, N_MED), 2)


@pytest.fixture(scope="module")
def small_xy():
    return _signals((2, 1, N_SMALL), 3), _signals((2, 1, N_SMALL), 4)


# -- 1. log output -------------------------------------------------------------------------


def _records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER]


def test_construction_log_matches_readme_example(caplog):
    # The README's θ-IS example, whose console output is printed verbatim there.
    caplog.set_level(logging.INFO, logger=LOGGER)
    SCRAPLLoss(shape=8096, J=3, Q1=1, Q2=1, J_fr=2, Q_fr=1, n_theta=3)
    (rec,) = _records(caplog)
    assert rec.levelno == logging.INFO
    text = logging.Formatter(logging.BASIC_FORMAT).format(rec)
    assert text.rstrip("\n").split("\n") == [
        "INFO:scrapl.scrapl_loss:SCRAPLLoss:",
        "J=3, Q1=1, Q2=1, Jfr=2, Qfr=1, T=None, F=None",
        "use_rho_log1p          = False, eps = 0.001",
        "grad_mult              = 100000000.0",
        "use_p_adam             = True",
        "use_p_saga             = True",
        "sample_all_paths_first = False",
        "n_theta                = 3",
        "min_prob_frac          = 0.0",
        "number of SCRAPL paths = 7",
        "unif_prob              = 0.14285714",
    ]


def test_construction_log_small_config(caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    SCRAPLLoss(**MED)
    (rec,) = _records(caplog)
    assert rec.levelno == logging.INFO
    assert rec.getMessage().rstrip("\n").split("\n") == [
        "SCRAPLLoss:",
        "J=6, Q1=4, Q2=1, Jfr=2, Qfr=1, T=None, F=None",
        "use_rho_log1p          = False, eps = 0.001",
        "grad_mult              = 100000000.0",
        "use_p_adam             = True",
        "use_p_saga             = True",
        "sample_all_paths_first = False",
        "n_theta                = 1",
        "min_prob_frac          = 0.0",
        "number of SCRAPL paths = 28",
        "unif_prob              = 0.03571429",
    ]


def test_construction_log_reflects_non_default_arguments(caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    loss = SCRAPLLoss(
        **SMALL,
        T=8,
        F="global",
        use_rho_log1p=True,
        log1p_eps=0.01,
        grad_mult=1.0,
        use_p_saga=False,
        sample_all_paths_first=True,
        n_theta=2,
        min_prob_frac=0.5,
    )
    (rec,) = _records(caplog)
    assert rec.getMessage().rstrip("\n").split("\n") == [
        "SCRAPLLoss:",
        "J=4, Q1=2, Q2=1, Jfr=2, Qfr=1, T=8, F=global",
        "use_rho_log1p          = True, eps = 0.01",
        "grad_mult              = 1.0",
        "use_p_adam             = True",
        "use_p_saga             = False",
        "sample_all_paths_first = True",
        "n_theta                = 2",
        "min_prob_frac          = 0.5",
        f"number of SCRAPL paths = {loss.n_paths}",
        f"unif_prob              = {1 / loss.n_paths:.8f}",
    ]


def test_attach_and_detach_log(caplog, small_xy):
    loss = SCRAPLLoss(**SMALL, seed=0)
    model = _readme_model(N_SMALL)
    n_weights = sum(p.numel() for p in model.parameters())
    assert n_weights == 2 * 8 * N_SMALL + 8 + 1 + N_SMALL  # sanity of the toy model itself
    caplog.set_level(logging.INFO, logger=LOGGER)
    loss.attach_params(model.parameters())  # a generator, as in the README
    loss.attach_params([])
    loss.attach_params([])
    loss.attach_params(list(model.parameters())[:2])
    msgs = [r.getMessage() for r in _records(caplog)]
    assert msgs == [
        f"Attached 5 parameter tensors ({n_weights} weights)",
        "Detached 5 parameter tensors",
        "Detached 0 parameter tensors",
        f"Attached 2 parameter tensors ({8 * N_SMALL + 8} weights)",
    ]
    assert all(r.levelno == logging.INFO for r in _records(caplog))


def test_detach_removes_the_hooks(small_xy):
    x, y = small_xy
    model = _readme_model(N_SMALL)
    ref = copy.deepcopy(model)
    loss = SCRAPLLoss(**SMALL, seed=0)
    loss.attach_params(model.parameters())
    loss.attach_params([])
    loss(model(x), y, path_idx=3).backward()
    SCRAPLLoss(**SMALL, seed=0)(ref(x), y, path_idx=3).backward()
    for g, g_ref in zip(_grads(model), _grads(ref), strict=True):
        assert torch.equal(g, g_ref)


def test_attach_rejects_tensors_without_grad():
    loss = SCRAPLLoss(**SMALL, seed=0)
    with pytest.raises(TypeError, match=r"params\[1\]"):
        loss.attach_params([nn.Parameter(torch.zeros(3)), torch.zeros(3)])
    with pytest.raises(TypeError, match="use_hooks"):
        loss.attach_params([nn.Parameter(torch.zeros(3))], use_hooks=1)


# -- 2. sampling bookkeeping ---------------------------------------------------------------


def test_n_paths_unif_prob_and_uniform_probs():
    loss = SCRAPLLoss(**MED)
    assert loss.n_paths == 28
    assert loss.unif_prob == pytest.approx(1 / 28, rel=1e-15)
    assert loss.probs.dtype == torch.float64
    assert loss.probs.shape == (28,)
    assert torch.equal(loss.probs, torch.full((28,), 1 / 28, dtype=torch.float64))
    assert loss.probs.sum().item() == pytest.approx(1.0, abs=1e-12)
    assert loss.curr_path_idx is None
    assert isinstance(loss.path_counts, defaultdict)
    assert loss.path_counts.default_factory is int
    assert len(loss.path_counts) == 0


def test_curr_path_idx_and_fixed_path_idx(med_xy):
    x, y = med_xy
    loss = SCRAPLLoss(**MED, seed=5)
    loss(x, y)
    first = loss.curr_path_idx
    assert isinstance(first, int) and 0 <= first < loss.n_paths
    assert dict(loss.path_counts) == {first: 1}
    loss(x, y, path_idx=8)
    assert loss.curr_path_idx == 8
    assert loss.path_counts == Counter([first, 8])


def test_seeded_call_repeats_and_leaves_the_sampler_alone(small_xy):
    x, y = small_xy
    plain = SCRAPLLoss(**SMALL, seed=11)
    mixed = SCRAPLLoss(**SMALL, seed=11)
    other = SCRAPLLoss(**SMALL, seed=12)
    seq_plain, seq_mixed, seeded = [], [], []
    for _ in range(8):
        plain(x, y)
        seq_plain.append(plain.curr_path_idx)
        mixed(x, y, seed=42)
        seeded.append(mixed.curr_path_idx)
        mixed(x, y)
        seq_mixed.append(mixed.curr_path_idx)
    # The seeded draw does not depend on the constructor seed, nor on the sampler's state.
    other(x, y, seed=42)
    seeded.append(other.curr_path_idx)
    assert len(set(seeded)) == 1
    # Interleaved seeded draws did not advance the sampler's own sequence.
    assert seq_mixed == seq_plain
    assert len(set(seq_plain)) > 1  # the unseeded sequence is really random
    # Seeded calls in training mode are counted like any other.
    assert mixed.path_counts == Counter(seq_mixed + [seeded[0]] * 8)
    # Another seed gives another path for at least one of a few seeds.
    paths = set()
    for s in range(8):
        mixed(x, y, seed=s)
        paths.add(mixed.curr_path_idx)
    assert len(paths) > 1


def test_seed_42_selects_readme_path():
    # README: with the 315 paths of J=12, Q1=8, Q2=2, J_fr=3, Q_fr=2, seed=42 selects path 211.
    # Q1=1 and a shorter signal keep the same 315 paths at a fraction of the cost.
    loss = SCRAPLLoss(shape=4096, J=12, Q1=1, Q2=2, J_fr=3, Q_fr=2)
    assert loss.n_paths == 315
    assert f"{loss.unif_prob:.6f}" == "0.003175"
    x = _signals((1, 1, 4096), 0)
    loss(x, x, seed=42)
    assert loss.curr_path_idx == 211


def test_path_counts_count_training_calls_only(small_xy):
    x, y = small_xy
    loss = SCRAPLLoss(**SMALL, seed=3)
    loss(x, y, path_idx=2)
    loss(x, y)
    trained = loss.curr_path_idx
    before = dict(loss.path_counts)
    assert before == dict(Counter([2, trained]))
    assert loss.step == 2
    loss.eval()
    for p in (2, 5, 5):
        loss(x, y, path_idx=p)
        assert loss.curr_path_idx == p
    loss(x, y)
    loss(x, y, seed=1)
    assert dict(loss.path_counts) == before
    assert loss.step == 2
    loss.train()
    loss(x, y, path_idx=5)
    assert loss.path_counts[5] == before.get(5, 0) + 1
    assert loss.step == 3


def test_state_dict_clear_load_round_trip_readme(med_xy):
    x, y = med_xy
    loss = SCRAPLLoss(**MED, seed=9)
    twin = SCRAPLLoss(**MED, seed=9)
    loss(x, y)
    first = loss.curr_path_idx
    loss(x, y, path_idx=8)
    loss(x, y, seed=42)
    seeded = loss.curr_path_idx
    counts = Counter([first, 8, seeded])
    assert loss.path_counts == counts
    original = repr(loss.path_counts)
    assert original.startswith("defaultdict(<class 'int'>, {")
    state_dict = loss.state_dict()
    # The state dict is a snapshot: later calls do not change it.
    loss(x, y, path_idx=1)
    loss.clear()
    assert repr(loss.path_counts) == "defaultdict(<class 'int'>, {})"
    assert loss.curr_path_idx is None
    assert loss.step == 0
    loss.load_state_dict(state_dict)
    assert repr(loss.path_counts) == original
    assert isinstance(loss.path_counts, defaultdict)
    assert loss.path_counts.default_factory is int
    assert loss.path_counts == counts
    assert loss.curr_path_idx == seeded
    assert loss.step == 3
    # The sampler resumes where it was: same next draws as a twin that made the same calls.
    twin(x, y)
    assert twin.curr_path_idx == first
    seq, seq_twin = [], []
    for _ in range(6):
        loss(x, y)
        twin(x, y)
        seq.append(loss.curr_path_idx)
        seq_twin.append(twin.curr_path_idx)
    assert seq == seq_twin


# -- 3. loss value -------------------------------------------------------------------------


def _by_hand(loss: SCRAPLLoss, x2d, y2d, p, log1p_eps=None, order=2):
    s_x, s_y = loss.jtfs(x2d, p), loss.jtfs(y2d, p)
    if log1p_eps is not None:
        s_x, s_y = torch.log1p(s_x / log1p_eps), torch.log1p(s_y / log1p_eps)
    return torch.linalg.norm((s_x - s_y).flatten(1), ord=order, dim=1).mean()


@pytest.mark.parametrize("p", [0, 7, 27])
def test_loss_equals_per_path_l2_distance(med_loss, med_xy, p):
    x, y = med_xy
    with torch.no_grad():
        got = med_loss(x, y, path_idx=p)
        want = _by_hand(med_loss, x[:, 0], y[:, 0], p)
    assert got.shape == ()
    assert want > 0
    torch.testing.assert_close(got, want, rtol=1e-6, atol=0)


def test_loss_with_rho_log1p(med_xy):
    x, y = med_xy
    loss = SCRAPLLoss(**MED, use_rho_log1p=True, log1p_eps=1e-2)
    plain = SCRAPLLoss(**MED)
    with torch.no_grad():
        got = loss(x, y, path_idx=5)
        want = _by_hand(loss, x[:, 0], y[:, 0], 5, log1p_eps=1e-2)
        unlogged = plain(x, y, path_idx=5)
    torch.testing.assert_close(got, want, rtol=1e-6, atol=0)
    assert not torch.isclose(got, unlogged, rtol=1e-2)


def test_loss_with_l1_norm(small_xy):
    x, y = small_xy
    loss = SCRAPLLoss(**SMALL, p=1)
    with torch.no_grad():
        got = loss(x, y, path_idx=4)
        want = _by_hand(loss, x[:, 0], y[:, 0], 4, order=1)
    torch.testing.assert_close(got, want, rtol=1e-6, atol=0)


def test_loss_is_zero_for_identical_signals(small_loss, small_xy):
    x, _ = small_xy
    with torch.no_grad():
        assert small_loss(x, x.clone(), path_idx=6).item() == 0.0


def test_channels_are_folded_into_the_batch(small_loss):
    x = _signals((2, 3, N_SMALL), 10)
    y = _signals((2, 3, N_SMALL), 11)
    with torch.no_grad():
        folded = small_loss(x, y, path_idx=9)
        flat = small_loss(x.reshape(6, N_SMALL), y.reshape(6, N_SMALL), path_idx=9)
        per_row = torch.stack(
            [
                small_loss(
                    x.reshape(6, 1, N_SMALL)[i : i + 1],
                    y.reshape(6, 1, N_SMALL)[i : i + 1],
                    path_idx=9,
                )
                for i in range(6)
            ]
        )
    torch.testing.assert_close(folded, flat, rtol=1e-6, atol=0)
    # Mean over the 6 signals (not a sum, not a norm over channels).
    torch.testing.assert_close(folded, per_row.mean(), rtol=1e-5, atol=0)


# -- 4. resuming training: tests/test_scrapl_resume.py ----------------------------------


# -- 5./6. P-Adam / P-SAGA through hooks ---------------------------------------------------


def test_hooks_apply_the_pathwise_transform(small_xy):
    x, y = small_xy
    model = _readme_model(N_SMALL)
    ref_model = copy.deepcopy(model)
    loss = SCRAPLLoss(**SMALL, seed=0)
    loss.attach_params(model.parameters())
    ref_loss = SCRAPLLoss(**SMALL, seed=0)  # nothing attached: raw gradients
    transform = PathwiseGradientTransform(loss.n_paths)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    ref_opt = torch.optim.SGD(ref_model.parameters(), lr=1e-3)
    for step, path in enumerate([3, 5, 3], start=1):
        opt.zero_grad()
        ref_opt.zero_grad()
        loss(model(x), y, path_idx=path).backward()
        ref_loss(ref_model(x), y, path_idx=path).backward()
        raw = _grads(ref_model)
        assert all(bool((g != 0).any()) for g in raw)
        want = transform.apply_all(raw, path, step=step)
        got = _grads(model)
        for g, w, r in zip(got, want, raw, strict=True):
            assert torch.equal(g, w)
            assert not torch.allclose(g, r)
        if step == 1:
            # First visit with P-SAGA's empty table: g_hat = g / (eps + |g|) ~ sign(g).
            for g, r in zip(got, raw, strict=True):
                assert g.abs().max() <= 1.0 + 1e-5
                assert torch.equal(torch.sign(g), torch.sign(r))
        # Keep both models identical: step the reference with the transformed gradients.
        for p, w in zip(ref_model.parameters(), want, strict=True):
            p.grad = w.clone()
        opt.step()
        ref_opt.step()


def test_gradient_accumulation_is_refused(small_xy):
    x, y = small_xy
    model = _readme_model(N_SMALL)
    loss = SCRAPLLoss(**SMALL, seed=0)
    loss.attach_params(model.parameters())
    loss(model(x), y).backward()
    with pytest.raises(RuntimeError, match="gradient accumulation"):
        loss(model(x), y).backward()


def test_double_backward_of_one_forward_is_refused(small_xy):
    x, y = small_xy
    model = _readme_model(N_SMALL)
    loss = SCRAPLLoss(**SMALL, seed=0)
    loss.attach_params(model.parameters())
    out = loss(model(x), y)
    out.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="gradient accumulation"):
        out.backward()


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zeroing_between_steps_works(small_xy, set_to_none):
    x, y = small_xy
    model = _readme_model(N_SMALL)
    loss = SCRAPLLoss(**SMALL, seed=0)
    loss.attach_params(model.parameters())
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    for _ in range(4):
        opt.zero_grad(set_to_none=set_to_none)
        loss(model(x), y).backward()
        opt.step()
    assert loss.step == 4
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_transform_grads_without_hooks_matches_hooks(small_xy):
    x, y = small_xy
    hooked = _readme_model(N_SMALL)
    manual = copy.deepcopy(hooked)
    raw_model = copy.deepcopy(hooked)
    loss_h = SCRAPLLoss(**SMALL, seed=4)
    loss_m = SCRAPLLoss(**SMALL, seed=4)
    loss_h.attach_params(hooked.parameters())
    loss_m.attach_params(manual.parameters(), use_hooks=False)
    opt_h = torch.optim.SGD(hooked.parameters(), lr=1e-3)
    opt_m = torch.optim.SGD(manual.parameters(), lr=1e-3)
    for step in range(3):
        opt_h.zero_grad()
        opt_m.zero_grad()
        raw_model.zero_grad()
        loss_h(hooked(x), y).backward()
        loss_m(manual(x), y).backward()
        assert loss_h.curr_path_idx == loss_m.curr_path_idx
        if step == 0:
            # Before transform_grads the gradients are the raw ones.
            SCRAPLLoss(**SMALL)(raw_model(x), y, path_idx=loss_m.curr_path_idx).backward()
            for g, r in zip(_grads(manual), _grads(raw_model), strict=True):
                assert torch.equal(g, r)
        loss_m.transform_grads()
        for g_h, g_m in zip(_grads(hooked), _grads(manual), strict=True):
            assert torch.equal(g_h, g_m)
        opt_h.step()
        opt_m.step()
    for p_h, p_m in zip(hooked.parameters(), manual.parameters(), strict=True):
        assert torch.equal(p_h, p_m)


def test_backward_without_training_forward_is_refused(small_xy):
    x, y = small_xy
    model = _readme_model(N_SMALL)
    loss = SCRAPLLoss(**SMALL, seed=0)
    loss.attach_params(model.parameters())
    loss.eval()
    with pytest.raises(RuntimeError, match="training mode"):
        loss(model(x), y).backward()


# -- 7. unbiasedness -----------------------------------------------------------------------


def test_mean_over_paths_equals_jtfs_loss_float64():
    scrapl = SCRAPLLoss(**SMALL).double()
    full = JTFSLoss(**SMALL).double()
    assert full.n_paths == scrapl.n_paths
    x = _signals((2, 1, N_SMALL), 21, torch.float64).requires_grad_()
    y = _signals((2, 1, N_SMALL), 22, torch.float64)

    per_path = [scrapl(x, y, path_idx=p) for p in range(scrapl.n_paths)]
    mean = torch.stack(per_path).mean()
    (g_mean,) = torch.autograd.grad(mean, x)
    assert mean.dtype == torch.float64

    value = full(x, y)
    (g_full,) = torch.autograd.grad(value, x)

    assert mean.item() == pytest.approx(value.item(), rel=1e-10)
    with torch.no_grad():
        torch.testing.assert_close(
            torch.stack(per_path), full.path_losses(x, y), rtol=1e-10, atol=0
        )
    scale = g_full.abs().max()
    assert scale > 0
    torch.testing.assert_close(g_mean, g_full, rtol=1e-10, atol=1e-10 * scale.item())


# -- 8. errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(shape=0), ValueError, r"^shape\b"),
        (dict(shape=1024.0), TypeError, r"^shape\b"),
        (dict(J="3"), TypeError, r"^J\b"),
        (dict(J=11), ValueError, r"^J\b"),
        (dict(Q1=0), ValueError, r"^Q1\b"),
        (dict(Q2=True), TypeError, r"^Q2\b"),
        (dict(J_fr=0), ValueError, r"^J_fr\b"),
        (dict(Q_fr=-1), ValueError, r"^Q_fr\b"),
        (dict(T=-1), ValueError, r"^T\b"),
        (dict(T=2.5), TypeError, r"^T\b"),
        (dict(F="local"), TypeError, r"^F\b"),
        (dict(F=0), ValueError, r"^F\b"),
        (dict(p=0), ValueError, r"^p must be in \(0, inf\), got 0"),
        (dict(p=float("nan")), ValueError, r"^p\b"),
        (dict(use_rho_log1p=1), TypeError, r"^use_rho_log1p\b"),
        (dict(log1p_eps=0), ValueError, r"^log1p_eps must be in \(0, inf\)"),
        (dict(grad_mult=1), ValueError, r"^grad_mult\b"),
        (dict(grad_mult=0.5), ValueError, r"^grad_mult\b"),
        (dict(grad_mult=0, use_p_adam=False), ValueError, r"^grad_mult must be in \(0, inf\)"),
        (dict(use_p_adam="yes"), TypeError, r"^use_p_adam\b"),
        (dict(use_p_saga=None), TypeError, r"^use_p_saga\b"),
        (dict(n_theta=0), ValueError, r"^n_theta\b"),
        (dict(min_prob_frac=1.5), ValueError, r"^min_prob_frac\b"),
        (dict(min_prob_frac=-0.1), ValueError, r"^min_prob_frac\b"),
        (dict(adam_betas=(0.9,)), TypeError, r"^adam_betas\b"),
        (dict(adam_betas=0.9), TypeError, r"^adam_betas\b"),
        (dict(adam_betas=(0.9, 1.0)), ValueError, r"^adam_betas\[1\]"),
        (dict(adam_betas=(-0.1, 0.999)), ValueError, r"^adam_betas\[0\]"),
        (dict(adam_eps=0), ValueError, r"^adam_eps must be in \(0, inf\), got 0"),
        (dict(adam_eps=-1e-8), ValueError, r"^adam_eps must be in \(0, inf\)"),
        (dict(adam_eps="1e-8"), TypeError, r"^adam_eps must be a float in \(0, inf\)"),
        (dict(adam_betas=("a", 0.9)), TypeError, r"^adam_betas\[0\] must be a float in \[0.0, 1"),
        (dict(sample_all_paths_first="yes"), TypeError, r"^sample_all_paths_first\b"),
        (dict(seed=-1), ValueError, r"^seed\b"),
        (dict(pathwise_dtype=torch.int32), TypeError, r"^pathwise_dtype must be None or a float"),
        (dict(pathwise_dtype="bfloat16"), TypeError, r"^pathwise_dtype\b"),
        (dict(pathwise_offload=1), TypeError, r"^pathwise_offload must be a bool"),
        (dict(probs_path=3), TypeError, r"^probs_path must be None or the path"),
    ],
    ids=lambda v: repr(v) if isinstance(v, dict) else None,
)
def test_constructor_rejects_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        SCRAPLLoss(**{**SMALL, **kwargs})


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(grad_mult=1, use_rho_log1p=True),
        dict(grad_mult=0.5, use_p_adam=False),
        dict(T="global", F="global"),
        dict(min_prob_frac=1.0, adam_betas=[0.0, 0.5]),
    ],
)
def test_constructor_accepts_edge_arguments(kwargs):
    loss = SCRAPLLoss(**{**SMALL, **kwargs})
    x = _signals((1, 1, N_SMALL), 0)
    assert torch.isfinite(loss(x, 0.5 * x))


def test_forward_rejects_bad_signals(small_loss):
    n = N_SMALL
    good = _signals((2, 1, n), 0)
    counts = dict(small_loss.path_counts)
    step = small_loss.step
    cases = [
        ((good[0, 0], good[0, 0]), ValueError, r"^x must have shape"),
        ((good[None], good[None]), ValueError, r"^x must have shape"),
        ((good, good[0, 0]), ValueError, r"^x_target must have shape"),
        ((good[..., :-1], good[..., :-1]), ValueError, r"^x must have shape .*got \(2, 1, 1023\)"),
        ((good, _signals((2, 1, 2 * n), 0)), ValueError, r"^x_target must have shape .*2048\)"),
        ((good, good[:1]), ValueError, r"^x and x_target must have the same shape"),
        ((good, good[:, 0]), ValueError, r"^x and x_target must have the same shape"),
        ((good.to(torch.int64), good), TypeError, r"^x must be a real floating-point tensor"),
        ((good, good.to(torch.int32)), TypeError, r"^x_target must be a real floating-point"),
        ((good.to(torch.complex64), good), TypeError, r"^x must be a real.*complex64"),
        ((good.double(), good.double()), TypeError, r"^x has dtype torch.float64"),
        ((good.tolist(), good), TypeError, r"^x must be a torch.Tensor"),
        ((good[:0], good[:0]), ValueError, r"^x must not be empty"),
    ]
    for value in (float("nan"), float("inf"), -float("inf")):
        bad = good.clone()
        bad[1, 0, 17] = value
        cases += [((bad, good), ValueError, r"^x contains NaN or infinite")]
        cases += [((good, bad), ValueError, r"^x_target contains NaN or infinite")]
    for (x, y), exc, match in cases:
        with pytest.raises(exc, match=match):
            small_loss(x, y)
    assert dict(small_loss.path_counts) == counts
    assert small_loss.step == step


@pytest.mark.parametrize(
    "path_idx, exc",
    [
        (-1, ValueError),
        (14, ValueError),
        (100, ValueError),
        (2.5, TypeError),
        (True, TypeError),
        ("3", TypeError),
    ],
)
def test_forward_rejects_bad_path_idx(small_loss, small_xy, path_idx, exc):
    x, y = small_xy
    assert small_loss.n_paths == 14
    counts = dict(small_loss.path_counts)
    with pytest.raises(exc, match=r"^path_idx must be an int in \[0, 14\)"):
        small_loss(x, y, path_idx=path_idx)
    assert dict(small_loss.path_counts) == counts


@pytest.mark.parametrize("seed, exc", [(-1, ValueError), (2**64, ValueError), (1.5, TypeError)])
def test_forward_rejects_bad_seed(small_loss, small_xy, seed, exc):
    x, y = small_xy
    with pytest.raises(exc, match=r"^seed\b"):
        small_loss(x, y, seed=seed)


def test_load_probs_rejects_bad_files(tmp_path):
    loss = SCRAPLLoss(**SMALL, seed=0)
    uniform = loss.probs.clone()
    missing = tmp_path / "missing.pt"
    with pytest.raises(ValueError, match=r"cannot read path probabilities from .*missing\.pt"):
        loss.load_probs(missing)
    bad = {
        "short.pt": (torch.ones(13), r"short\.pt.* must hold a tensor of shape \(14,\)"),
        "long.pt": (torch.ones(15), r"must hold a tensor of shape \(14,\)"),
        "matrix.pt": (torch.ones(14, 1), r"must hold a tensor of shape \(14,\)"),
        "dict.pt": ({"probs": torch.ones(14)}, r"must hold a tensor of shape \(14,\)"),
        "negative.pt": (torch.linspace(-1, 1, 14), "non-negative"),
        "zeros.pt": (torch.zeros(14), "positive, finite sum"),
        "nan.pt": (torch.full((14,), float("nan")), "finite"),
    }
    for name, (content, match) in bad.items():
        torch.save(content, tmp_path / name)
        with pytest.raises(ValueError, match=match):
            loss.load_probs(tmp_path / name)
    # A truncated checkpoint and an empty file are reported as unreadable.
    torch.save(torch.ones(14), tmp_path / "full.pt")
    data = (tmp_path / "full.pt").read_bytes()
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.pt").write_bytes(b"")
    for name in ("truncated.pt", "empty.pt"):
        with pytest.raises(ValueError, match=rf"cannot read path probabilities from .*{name}"):
            loss.load_probs(tmp_path / name)
    # Nothing was changed by the rejected files.
    assert torch.equal(loss.probs, uniform)


@pytest.mark.parametrize("seed", [0, 1])
def test_load_probs_rejects_corrupt_file(tmp_path, seed):
    loss = SCRAPLLoss(**SMALL, seed=0)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(np.random.default_rng(seed).bytes(256))
    with pytest.raises(ValueError, match=r"cannot read path probabilities from .*corrupt\.pt"):
        loss.load_probs(corrupt)


def test_load_state_dict_from_another_config_is_refused(small_xy):
    x, y = small_xy
    loss = SCRAPLLoss(**SMALL, seed=0)
    loss(x, y)
    counts, curr = dict(loss.path_counts), loss.curr_path_idx

    other_paths = SCRAPLLoss(**MED)
    with pytest.raises(ValueError, match=r"not from a SCRAPLLoss with 14 paths.*n_paths=28"):
        loss.load_state_dict(other_paths.state_dict())
    same_paths = SCRAPLLoss(**SMALL, T=8)
    assert same_paths.n_paths == loss.n_paths
    with pytest.raises(ValueError, match=r"state_dict is from a SCRAPLLoss with .*T=8"):
        loss.load_state_dict(same_paths.state_dict())
    with pytest.raises(ValueError, match="beta1"):
        loss.load_state_dict(SCRAPLLoss(**SMALL, adam_betas=(0.8, 0.999)).state_dict())
    with pytest.raises(ValueError, match="use_p_saga"):
        loss.load_state_dict(SCRAPLLoss(**SMALL, use_p_saga=False).state_dict())
    # None of the rejected loads touched the bookkeeping.
    assert dict(loss.path_counts) == counts
    assert loss.curr_path_idx == curr


def test_rejected_load_state_dict_leaves_sampler_untouched(small_xy):
    x, y = small_xy
    loss = SCRAPLLoss(**SMALL, seed=0)
    twin = SCRAPLLoss(**SMALL, seed=0)
    for _ in range(3):
        loss(x, y)
        twin(x, y)
    foreign = SCRAPLLoss(**SMALL, seed=1, adam_betas=(0.8, 0.999))
    foreign.sampler.set_probs(torch.arange(1.0, 15.0))
    with pytest.raises(ValueError, match="beta1"):
        loss.load_state_dict(foreign.state_dict())
    assert torch.equal(loss.probs, twin.probs)
    seq, seq_twin = [], []
    for _ in range(8):
        loss(x, y)
        twin(x, y)
        seq.append(loss.curr_path_idx)
        seq_twin.append(twin.curr_path_idx)
    assert seq == seq_twin


# -- 9. probabilities and dtype ------------------------------------------------------------


def test_load_probs_normalises_and_floors(tmp_path, small_xy):
    x, y = small_xy
    n = 14
    raw = torch.arange(1.0, n + 1)  # float32, not normalised
    torch.save(raw, tmp_path / "probs.pt")
    loss = SCRAPLLoss(**SMALL, min_prob_frac=0.25, seed=0)
    loss.load_probs(tmp_path / "probs.pt")
    want = 0.75 * raw.double() / raw.double().sum() + 0.25 / n
    assert loss.probs.dtype == torch.float64
    torch.testing.assert_close(loss.probs, want, rtol=1e-12, atol=0)
    assert loss.probs.sum().item() == pytest.approx(1.0, abs=1e-12)
    assert loss.probs.min().item() >= 0.25 / n
    loss.clear()
    assert torch.equal(loss.probs, torch.full((n,), 1 / n, dtype=torch.float64))

    # The probabilities drive the sampling: a one-hot π is always sampled, also via seed=.
    torch.save(torch.nn.functional.one_hot(torch.tensor(6), n).float(), tmp_path / "one.pt")
    sharp = SCRAPLLoss(**SMALL, seed=0)
    sharp.load_probs(str(tmp_path / "one.pt"))  # str paths are accepted too
    drawn = set()
    for s in range(10):
        sharp(x, y)
        drawn.add(sharp.curr_path_idx)
        sharp(x, y, seed=s)
        drawn.add(sharp.curr_path_idx)
    assert drawn == {6}

    # min_prob_frac=1 ignores the file: π stays uniform.
    flat = SCRAPLLoss(**SMALL, min_prob_frac=1.0)
    flat.load_probs(tmp_path / "one.pt")
    torch.testing.assert_close(flat.probs, torch.full((n,), 1 / n, dtype=torch.float64))


def test_double_loss_takes_float64_inputs(small_xy):
    x, y = small_xy
    loss32 = SCRAPLLoss(**SMALL)
    loss64 = SCRAPLLoss(**SMALL).double()
    assert loss64.jtfs.psi_fr.dtype == torch.float64
    with torch.no_grad():
        v64 = loss64(x.double(), y.double(), path_idx=4)
        v32 = loss32(x, y, path_idx=4)
    assert v64.dtype == torch.float64
    assert v64.item() == pytest.approx(v32.item(), rel=1e-4)
    with pytest.raises(TypeError, match=r"^x has dtype torch.float32"):
        loss64(x, y, path_idx=4)
    # Path sampling and probabilities are unaffected by the cast.
    assert loss64.probs.dtype == torch.float64
    assert loss64.n_paths == 14


def test_probs_path_sets_probs_at_construction(tmp_path):
    probs = torch.arange(1, 15, dtype=torch.float64)
    torch.save(probs, tmp_path / "probs.pt")
    loss = SCRAPLLoss(**SMALL, seed=0, probs_path=tmp_path / "probs.pt")
    torch.testing.assert_close(loss.probs, probs / probs.sum())
    assert loss.probs_path == str(tmp_path / "probs.pt")
    assert SCRAPLLoss(**SMALL, seed=0).probs_path is None
    with pytest.raises(ValueError, match=r"cannot read path probabilities from .*nope\.pt"):
        SCRAPLLoss(**SMALL, seed=0, probs_path=tmp_path / "nope.pt")
