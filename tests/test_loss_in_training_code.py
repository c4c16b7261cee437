"""SCRAPLLoss as ordinary training code uses it: quiet audio, autocast and half-precision
inputs, a GradScaler with overflowed steps, per-example values, the meta device (no value
ever read back to the host) and state loaded from a CPU checkpoint onto another device."""

import math

import pytest
import torch
from torch import nn

from scrapl import JTFSLoss, SCRAPLLoss

SMALL = dict(shape=1024, J=4, Q1=2, Q2=1, J_fr=2, Q_fr=1)  # 14 paths
N = SMALL["shape"]


@pytest.fixture(scope="module")
def loss():
    return SCRAPLLoss(**SMALL, seed=0)


def _noise(shape, seed):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _pairs():
    """Signal pairs whose coefficients span many decades: white noise, a Gaussian-windowed
    chirp pair (tails far below 1e-19, where squares underflow float32) and a band-limited
    pair at 1e-3 with exact silence around it."""
    t = torch.arange(N, dtype=torch.float64)

    def chirp(f0, f1, width):
        phase = 2 * math.pi * (f0 * t + (f1 - f0) * t * t / (2 * N))
        return (torch.exp(-(((t - N / 2) / width) ** 2)) * torch.cos(phase)).expand(2, 1, N)

    def burst(start, stop, omega):
        x = torch.zeros(N, dtype=torch.float64)
        x[start:stop] = 1e-3 * torch.sin(omega * t[start:stop])
        return x.expand(2, 1, N)

    return {
        "noise": (_noise((2, 1, N), 1), _noise((2, 1, N), 2)),
        "chirp": (chirp(0.05, 0.2, 60), chirp(0.06, 0.25, 80)),
        "silence": (burst(300, 700, 0.3), burst(350, 650, 0.35)),
    }


def _input_grad(loss, x, y, path):
    x = x.float().requires_grad_()
    loss(x, y.float(), path_idx=path).backward()
    return x.grad


@pytest.mark.parametrize("pair", ["noise", "chirp", "silence"])
@pytest.mark.parametrize("exponent", [14, 20])
def test_input_gradient_is_invariant_to_a_power_of_two_scaling(loss, pair, exponent):
    # The loss is positively homogeneous of degree 1 in (x, x_target), so its input gradient
    # is of degree 0: scaling both signals by c = 2**-k must leave it unchanged. In float32
    # every operation commutes exactly with a power-of-two scaling except where a value
    # becomes subnormal (below 2**-126): there one rounding may change, by at most a few ulps
    # of the result. Bound: 8 ulps of the largest entry (2**-20 relative). The old modulus,
    # which squared in float32 and divided by finfo.tiny, was off by factors of 1e5 to 1e9.
    x, y = _pairs()[pair]
    c = 2.0**-exponent
    for path in range(loss.n_paths):
        ref = _input_grad(loss, x, y, path)
        got = _input_grad(loss, x * c, y * c, path)
        assert torch.isfinite(got).all()
        err = (got - ref).abs().max() / ref.abs().max()
        assert err <= 2.0**-20, f"path {path}: relative change {err.item():.3g}"


def test_autocast_does_not_change_the_loss(loss):
    # The loss turns autocast off for its own work: float32 inputs give the same value and
    # gradient, bit for bit, inside and outside a bfloat16 autocast region.
    x, y = _noise((2, 1, N), 3).float(), _noise((2, 1, N), 4).float()
    outs = []
    for enabled in (False, True):
        xx = x.clone().requires_grad_()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled):
            value = loss(xx, y, path_idx=5)
        value.backward()
        outs.append((value, xx.grad))
    (v0, g0), (v1, g1) = outs
    assert v1.dtype == torch.float32
    assert torch.equal(v0, v1) and torch.equal(g0, g1)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_inputs_are_computed_in_float32(loss, dtype):
    # Half-precision inputs are cast to float32: the value is the float32 loss of the same
    # (rounded) numbers, and the gradient is the float32 gradient rounded to the input dtype.
    x, y = _noise((2, 1, N), 5).to(dtype), _noise((2, 1, N), 6).to(dtype)
    xh = x.clone().requires_grad_()
    value = loss(xh, y, path_idx=3)
    value.backward()
    x32 = x.float().requires_grad_()
    ref = loss(x32, y.float(), path_idx=3)
    ref.backward()
    assert value.dtype == torch.float32 and torch.equal(value, ref)
    assert xh.grad.dtype == dtype and torch.equal(xh.grad, x32.grad.to(dtype))


def test_a_model_under_bfloat16_autocast_trains_with_pathwise_hooks():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 64), nn.Tanh(), nn.Linear(64, N))
    loss = SCRAPLLoss(**SMALL, seed=0)
    loss.attach_params(model.parameters())
    z, y = torch.randn(2, 16), _noise((2, 1, N), 7).float()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    for _ in range(3):
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(z).unsqueeze(1)
            assert out.dtype == torch.bfloat16
            value = loss(out, y)
        value.backward()
        assert all(p.grad.dtype == torch.float32 and torch.isfinite(p.grad).all() for p in
                   model.parameters())  # fmt: skip
        opt.step()
    assert int(loss.pathwise.skipped_steps) == 0 and loss.step == 3


def test_reduction_gives_per_example_values():
    x, y = _noise((3, 2, N), 8).float(), _noise((3, 2, N), 9).float()
    per = SCRAPLLoss(**SMALL, seed=0, reduction="none")(x, y, path_idx=4)
    assert per.shape == (3,)
    assert torch.equal(SCRAPLLoss(**SMALL, seed=0)(x, y, path_idx=4), per.mean())
    assert torch.equal(SCRAPLLoss(**SMALL, seed=0, reduction="sum")(x, y, path_idx=4), per.sum())
    # Each value is that example's loss alone (batched FFTs of the same rows: exact up to the
    # order of float32 additions inside the batched kernels, a few ulps).
    for b in range(3):
        alone = SCRAPLLoss(**SMALL, seed=0)(x[b : b + 1], y[b : b + 1], path_idx=4)
        torch.testing.assert_close(per[b], alone, rtol=2e-6, atol=0)


def test_full_loss_reduction_gives_per_example_values():
    x, y = _noise((3, 1, N), 12).float(), _noise((3, 1, N), 13).float()
    per = JTFSLoss(**SMALL, reduction="none")(x, y)
    assert per.shape == (3,)
    # The full loss averages over paths after the batch reduction: the same sums in another
    # order, equal up to float32 rounding of 14 + 3 positive terms (< 2**-20 relative).
    close = dict(rtol=2.0**-20, atol=0)
    torch.testing.assert_close(JTFSLoss(**SMALL)(x, y), per.mean(), **close)
    torch.testing.assert_close(JTFSLoss(**SMALL, reduction="sum")(x, y), per.sum(), **close)


@pytest.mark.parametrize("cls", [SCRAPLLoss, JTFSLoss])
@pytest.mark.parametrize("bad", ["avg", None, "Mean"])
def test_bad_reduction_is_refused(cls, bad):
    with pytest.raises(ValueError, match=r"^reduction must be one of \('mean', 'sum', 'none'\)"):
        cls(**SMALL, reduction=bad)


# -- GradScaler ---------------------------------------------------------------------------------


def _scaled_run(init_scale, discard_first):
    """Three GradScaler steps (deferred transform after unscale_); with ``discard_first`` the
    first step's gradient is computed and thrown away instead."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.Tanh(), nn.Linear(32, N))
    loss = SCRAPLLoss(**SMALL, seed=0)
    loss.attach_params(model.parameters(), use_hooks=False)
    opt = torch.optim.SGD(model.parameters(), lr=1e-2)
    # backoff 2**-100: one overflow takes the scale from 2**127 to 2**27, then it stays.
    scaler = torch.amp.GradScaler("cpu", init_scale=init_scale, backoff_factor=2.0**-100,
                                  growth_interval=10**6)  # fmt: skip
    z, y = torch.randn(2, 16, generator=torch.Generator().manual_seed(1)), _noise((2, 1, N), 10)
    weights = []
    for k in range(3):
        opt.zero_grad()
        scaler.scale(loss(model(z).unsqueeze(1), y.float())).backward()
        if discard_first and k == 0:
            opt.zero_grad()
            weights.append([p.detach().clone() for p in model.parameters()])
            continue
        scaler.unscale_(opt)
        loss.transform_grads()
        scaler.step(opt)
        scaler.update()
        weights.append([p.detach().clone() for p in model.parameters()])
    return weights, loss, scaler


def test_an_overflowed_step_is_skipped_and_leaves_pathwise_state_alone():
    # At scale 2**127 the backward overflows: P-Adam/P-SAGA must leave their state as it was
    # (an overflow absorbed into P-SAGA's running sum would make every later step NaN), the
    # scaler skips the step, and the run then equals one whose first gradient was discarded.
    # The scaling by powers of two is exact (the loss is homogeneous and its modulus exact),
    # so the two runs agree bit for bit.
    got, loss, scaler = _scaled_run(2.0**127, discard_first=False)
    want, ref_loss, _ = _scaled_run(2.0**27, discard_first=True)
    assert scaler.get_scale() == 2.0**27
    assert int(loss.pathwise.skipped_steps) == 1 and int(ref_loss.pathwise.skipped_steps) == 0
    for k, (a, b) in enumerate(zip(got, want, strict=True)):
        assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True)), f"step {k + 1}"
        assert all(torch.isfinite(u).all() for u in a)
    state, ref = loss.pathwise.state_dict(), ref_loss.pathwise.state_dict()
    for key in ("tau", "visited", "total"):
        assert torch.equal(state["buffers"][key], ref["buffers"][key])


# -- devices -------------------------------------------------------------------------------------


@pytest.mark.parametrize("use_hooks", [True, False])
def test_a_training_step_runs_on_the_meta_device(use_hooks):
    # Meta tensors have no values: any read back to the host (.item(), bool(), .tolist(),
    # a data-dependent branch) raises. A whole step - forward, backward, P-Adam/P-SAGA, the
    # optimizer, a state_dict - going through shows the loss never synchronises with the
    # device it runs on.
    with torch.device("meta"):
        loss = SCRAPLLoss(**SMALL, seed=0)
        model = nn.Linear(16, N)
        z, y = torch.randn(2, 16), torch.randn(2, 1, N)
    loss.attach_params(model.parameters(), use_hooks=use_hooks)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    for _ in range(3):
        opt.zero_grad()
        value = loss(model(z).unsqueeze(1), y)
        value.backward()
        if not use_hooks:
            loss.transform_grads()
        opt.step()
    assert value.device.type == "meta" and loss.step == 3
    tensors = [t for t in _tensors(loss.pathwise.state_dict())]
    assert tensors and all(t.device.type == "meta" for t in tensors)


def _tensors(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _tensors(v)
    elif isinstance(obj, list | tuple):
        for v in obj:
            yield from _tensors(v)


@pytest.mark.parametrize("offload", [False, True])
def test_loaded_state_follows_the_parameters_device(offload):
    # Checkpoints are often loaded to the CPU (Lightning does): the restored P-Adam/P-SAGA
    # state goes to the attached parameters' device at once, except with offloading, where
    # its home is CPU memory.
    torch.manual_seed(0)
    model = nn.Linear(16, N)
    loss = SCRAPLLoss(**SMALL, seed=0, pathwise_offload=offload)
    loss.attach_params(model.parameters())
    z, y = torch.randn(2, 16), _noise((2, 1, N), 11).float()
    for _ in range(2):
        model.zero_grad()
        loss(model(z).unsqueeze(1), y).backward()
    state = loss.state_dict()
    with torch.device("meta"):
        other = SCRAPLLoss(**SMALL, seed=0, pathwise_offload=offload)
        other_model = nn.Linear(16, N)
    other.attach_params(other_model.parameters())
    other.load_state_dict(state)
    buffers = other.pathwise.state_dict()["buffers"]
    per_path = [t for e in buffers["paths"] for k, t in e.items() if k != "path"]
    shared = [buffers[k] for k in ("tau", "visited", "total")]
    assert per_path and all(t.device.type == ("cpu" if offload else "meta") for t in per_path)
    assert all(t.device.type == "meta" for t in shared)
