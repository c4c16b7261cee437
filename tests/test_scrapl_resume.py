"""Resuming SCRAPL training from a checkpoint reads every kind of restored state.

A run trains a few steps, is checkpointed (through torch.save / torch.load(weights_only=True))
and continues; a fresh model, loss and optimizer loaded from the checkpoint must take the same
steps bit for bit. After the resume the sampler revisits paths of the first part, so the
restored P-Adam moments (m, v, τ) and P-SAGA entries are read, not only the running SAGA
sums. To show that each kind of restored state is read, each one is perturbed in the
checkpoint in turn: every perturbation must change the resumed run.
"""

import pytest
import torch
from torch import nn

from scrapl import SCRAPLLoss

SMALL = dict(shape=1024, J=4, Q1=2, Q2=1, J_fr=2, Q_fr=1)  # 14 paths
N = SMALL["shape"]


class Toy(nn.Module):
    def __init__(self, seed: int) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.lin = nn.Linear(16, N)
        with torch.no_grad():
            self.lin.weight.copy_(torch.randn(N, 16, generator=gen) * 0.25)
            self.lin.bias.copy_(torch.randn(N, generator=gen) * 0.25)
        self.register_buffer("z", torch.randn(2, 16, generator=torch.Generator().manual_seed(9)))

    def forward(self) -> torch.Tensor:
        return torch.tanh(self.lin(self.z)).unsqueeze(1)  # (2, 1, N)


def _perturb(kind: str):
    """Changes one kind of restored state in a SCRAPLLoss's ``_extra_state``."""

    def per_path(key, fn):
        def go(extra):
            for e in extra["pathwise"]["buffers"]["paths"]:
                e[key] = fn(e[key])

        return go

    def shared(key, fn):
        def go(extra):
            buffers = extra["pathwise"]["buffers"]
            buffers[key] = fn(buffers[key])

        return go

    def one_more_visited(visited):
        # A path never visited gets a (zero) P-SAGA entry: the mean's count changes.
        visited = visited.clone()
        visited[int((~visited[:, 0]).nonzero()[0])] = True
        return visited

    def step(extra):
        extra["step"] += 1

    def sampler(extra):
        extra["sampler"] = SCRAPLLoss(**SMALL, seed=0).state_dict()["_extra_state"]["sampler"]

    return {
        "m": per_path("m", lambda t: t * 2),
        "v": per_path("v", lambda t: t * 4),
        "tau": shared("tau", lambda tau: tau - 1),
        "t": per_path("t", lambda t: t * 2),
        "sum": shared("total", lambda t: t * 2),
        "count": shared("visited", one_more_visited),
        "step": step,
        "sampler": sampler,
    }[kind]


ADAM_KINDS = ["m", "v", "tau", "step"]
SAGA_KINDS = ["t", "sum", "count"]
# Loss arguments, restored kinds that are read, steps before and after the checkpoint.
VARIANTS = {
    "p_adam_p_saga": (dict(), ADAM_KINDS + SAGA_KINDS, 6, 6),
    "p_adam": (dict(use_p_saga=False), ADAM_KINDS, 6, 6),
    "p_saga": (dict(use_p_adam=False), SAGA_KINDS, 6, 6),
    "bfloat16": (dict(pathwise_dtype=torch.bfloat16), ADAM_KINDS + SAGA_KINDS, 6, 6),
    "offload": (dict(pathwise_offload=True), ADAM_KINDS + SAGA_KINDS, 6, 6),
    # Every path once (random order) before sampling π: revisits start at step 15.
    "all_paths_first": (dict(sample_all_paths_first=True), ADAM_KINDS + SAGA_KINDS, 10, 8),
}


def _make(kwargs: dict, model_seed: int):
    model = Toy(model_seed)
    loss = SCRAPLLoss(**SMALL, seed=0, **kwargs)
    loss.attach_params(model.parameters())
    return model, loss, torch.optim.SGD(model.parameters(), lr=1e-3)


def _train(model, loss, opt, target, n_steps, reference=None):
    """Weights and paths of ``n_steps`` steps; with ``reference`` (weights of a run), stop at
    the first step whose weights differ from it."""
    weights, paths = [], []
    for k in range(n_steps):
        opt.zero_grad()
        loss(model(), target).backward()
        opt.step()
        paths.append(loss.curr_path_idx)
        weights.append([p.detach().clone() for p in model.parameters()])
        if reference is not None and not _same([weights[-1]], [reference[k]]):
            break
    return weights, paths


def _resume(kwargs, ckpt, target, n_steps, perturb=None, reference=None):
    model, loss, opt = _make(kwargs, model_seed=1)  # another init: all comes from ckpt
    state = torch.load(ckpt, weights_only=True)
    if perturb is not None:
        perturb(state["loss"]["_extra_state"])
    model.load_state_dict(state["model"])
    loss.load_state_dict(state["loss"])
    opt.load_state_dict(state["opt"])
    return (*_train(model, loss, opt, target, n_steps, reference), loss)


def _same(run_a, run_b) -> bool:
    if len(run_a) != len(run_b):
        return False
    steps = zip(run_a, run_b, strict=True)
    return all(torch.equal(a, b) for wa, wb in steps for a, b in zip(wa, wb, strict=True))


@pytest.fixture(scope="module")
def target():
    return torch.randn((2, 1, N), generator=torch.Generator().manual_seed(77))


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_resume_reads_every_kind_of_restored_state(tmp_path, target, variant):
    kwargs, kinds, n_before, n_after = VARIANTS[variant]
    model, loss, opt = _make(kwargs, model_seed=0)
    _, before = _train(model, loss, opt, target, n_before)
    ckpt = tmp_path / "ckpt.pt"
    state = {"model": model.state_dict(), "loss": loss.state_dict(), "opt": opt.state_dict()}
    torch.save(state, ckpt)
    ref_weights, ref_paths = _train(model, loss, opt, target, n_after)
    # Paths of the first part come back after the resume (their P-Adam/P-SAGA entries are
    # read), and new ones are visited too.
    assert set(ref_paths) & set(before) and set(ref_paths) - set(before)

    weights, paths, resumed = _resume(kwargs, ckpt, target, n_after)
    assert paths == ref_paths
    assert _same(weights, ref_weights)
    assert resumed.step == loss.step == n_before + n_after
    assert resumed.path_counts == loss.path_counts
    state = resumed.pathwise.state_dict()
    paths = state["buffers"]["paths"]
    stored = [e[k] for e in paths for k in ("m", "v", "t") if k in e]
    assert stored and all(t.device.type == "cpu" for t in stored)
    want_dtype = kwargs.get("pathwise_dtype", torch.float32)
    assert all(t.dtype == want_dtype for t in stored)

    for kind in [*kinds, "sampler"]:
        perturbed, _, _ = _resume(kwargs, ckpt, target, n_after, _perturb(kind), ref_weights)
        assert not _same(perturbed, ref_weights), f"{kind} is not read after the resume"
