"""Attached parameters: both modes refuse gradient accumulation and mixed-up paths alike,
and leave a parameter that got no gradient alone (scrapl/attached.py)."""

import copy

import pytest
import torch
from torch import nn

from scrapl import SCRAPLLoss
from scrapl.pathwise.adam_saga import PathwiseGradientTransform

SMALL = dict(shape=1024, J=4, Q1=2, Q2=1, J_fr=2, Q_fr=1)  # 14 paths
N = SMALL["shape"]
MODES = pytest.mark.parametrize("use_hooks", [True, False], ids=["hooks", "deferred"])


def _signals(shape, seed):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


class TwoBranches(nn.Module):
    """``tanh(a z) (+ b z when use_b)``: ``b`` gets no gradient on the steps without it."""

    def __init__(self) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.a = nn.Parameter(torch.randn(N, 8, generator=gen) * 0.1)
        self.b = nn.Parameter(torch.randn(N, 8, generator=gen) * 0.1)
        self.register_buffer("z", torch.randn(8, 2, generator=gen))

    def forward(self, use_b: bool = True) -> torch.Tensor:
        out = torch.tanh(self.a @ self.z)
        if use_b:
            out = out + 0.5 * torch.tanh(self.b @ self.z)
        return out.T.unsqueeze(1)  # (2, 1, N)


@pytest.fixture(scope="module")
def target():
    return _signals((2, 1, N), 1)


def _attached(use_hooks: bool, **kwargs):
    model = TwoBranches()
    loss = SCRAPLLoss(**SMALL, seed=0, **kwargs)
    loss.attach_params(model.parameters(), use_hooks=use_hooks)
    return model, loss


def _finish(loss: SCRAPLLoss, use_hooks: bool) -> None:
    if not use_hooks:
        loss.transform_grads()


@MODES
def test_second_backward_without_zeroing_is_refused(target, use_hooks):
    # Deferred mode is what Lightning and DDP use: two forward/backward passes then one
    # transform_grads() used to transform the sum of two paths' gradients as the last one's.
    model, loss = _attached(use_hooks)
    loss(model(), target, path_idx=3).backward()
    with pytest.raises(RuntimeError, match="already holds a gradient: gradient accumulation"):
        loss(model(), target, path_idx=5).backward()


@MODES
def test_backward_through_two_summed_losses_is_refused(target, use_hooks):
    model, loss = _attached(use_hooks)
    first = loss(model(), target, path_idx=3)
    second = loss(model(), target, path_idx=5)
    with pytest.raises(RuntimeError, match=r"loss of step 1 \(path 3\).*current step is 2"):
        (first + second).backward()
    assert all(p.grad is None for p in model.parameters())


@MODES
def test_backward_through_an_older_loss_is_refused(target, use_hooks):
    model, loss = _attached(use_hooks)
    first = loss(model(), target, path_idx=3)
    loss(model(), target, path_idx=5)
    with pytest.raises(RuntimeError, match="gradient accumulation is not supported"):
        first.backward()


@MODES
def test_backward_through_an_eval_mode_loss_is_refused(target, use_hooks):
    model, loss = _attached(use_hooks)
    loss(model(), target, path_idx=3).backward()
    _finish(loss, use_hooks)
    model.zero_grad()
    loss.eval()
    with pytest.raises(RuntimeError, match=r"eval mode.*loss\.train\(\)"):
        loss(model(), target, path_idx=4).backward()


def test_transform_grads_twice_is_refused(target):
    model, loss = _attached(False)
    loss(model(), target, path_idx=3).backward()
    loss.transform_grads()
    with pytest.raises(RuntimeError, match=r"called twice in one step\?"):
        loss.transform_grads()


def test_transform_grads_with_hooks_is_refused(target):
    model, loss = _attached(True)
    loss(model(), target, path_idx=3).backward()
    with pytest.raises(RuntimeError, match="use_hooks=False"):
        loss.transform_grads()
    loss.attach_params([])
    loss.transform_grads()  # nothing attached: nothing to do


def test_discarded_gradient_is_not_accumulation(target):
    # A step whose gradient was zeroed without a transform (a skipped step) is not an error,
    # and the next step's gradient is transformed as its own path's.
    model, loss = _attached(False)
    fresh_model, fresh = _attached(False)
    loss(model(), target, path_idx=3).backward()
    model.zero_grad(set_to_none=False)
    loss(model(), target, path_idx=5).backward()
    loss.transform_grads()
    fresh(fresh_model(), target, path_idx=3)  # step 1, without backward
    fresh(fresh_model(), target, path_idx=5).backward()
    fresh.transform_grads()
    for p, q in zip(model.parameters(), fresh_model.parameters(), strict=True):
        assert torch.equal(p.grad, q.grad)


@pytest.mark.parametrize("set_to_none", [True, False])
@MODES
def test_parameter_without_gradient_is_left_alone(target, use_hooks, set_to_none):
    """Both modes equal the transform fed with the raw gradients, ``b`` skipped on the steps
    where it took no part (its .grad stays None or zero, its P-Adam/P-SAGA state unchanged)."""
    model, loss = _attached(use_hooks)
    raw_model = copy.deepcopy(model)
    reference = PathwiseGradientTransform(loss.n_paths)
    reference.clear([p.shape for p in model.parameters()])
    plain = SCRAPLLoss(**SMALL, use_p_adam=False, use_p_saga=False)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    plan = [(3, True), (5, False), (3, False), (5, True), (3, False), (3, True)]
    for step, (path, use_b) in enumerate(plan, start=1):
        opt.zero_grad(set_to_none=set_to_none)
        loss(model(use_b), target, path_idx=path).backward()
        _finish(loss, use_hooks)
        raw_model.zero_grad(set_to_none=True)
        plain(raw_model(use_b), target, path_idx=path).backward()
        expected = reference.apply_all([raw.grad for raw in raw_model.parameters()], path, step)
        for p, raw, e in zip(model.parameters(), raw_model.parameters(), expected, strict=True):
            if raw.grad is None:
                assert p.grad is None if set_to_none else not p.grad.any()
                continue
            assert raw.grad.any()
            assert torch.equal(p.grad, e)
        opt.step()
        with torch.no_grad():
            for p, raw in zip(model.parameters(), raw_model.parameters(), strict=True):
                raw.copy_(p)
    # b's state was untouched on the steps without it (steps 2, 3, 5: τ of path 3 is 6 after
    # a gap of 5 steps, a's is 6 after 1), and the bookkeeping equals the reference's.
    state, ref_state = loss.pathwise.state_dict(), reference.state_dict()
    tau = state["buffers"]["tau"]
    assert torch.equal(tau, ref_state["buffers"]["tau"])
    assert tau[3].tolist() == [6, 6] and tau[5].tolist() == [4, 4]
    assert torch.equal(state["buffers"]["visited"], ref_state["buffers"]["visited"])
    assert state["last_step"] == ref_state["last_step"] == [6, 6]
