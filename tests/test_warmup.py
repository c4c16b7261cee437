"""θ-IS warmup (scrapl.warmup.theta_is): power iteration, probabilities, resumable files, errors."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.func import functional_call

from scrapl import SCRAPLLoss
from scrapl.losses.distance import path_distance
from scrapl.warmup.theta_is import probs_from_vals

N = 1024
N_THETA = 2
ROOT = Path(__file__).resolve().parents[1]


def make_loss(**kwargs) -> SCRAPLLoss:
    kw = dict(shape=N, J=4, Q1=2, Q2=1, J_fr=2, Q_fr=1, n_theta=N_THETA)
    kw.update(kwargs)
    return SCRAPLLoss(**kw)


class Setup:
    """A tiny encoder (29 weights behind a fixed projection) and a fixed nonlinear synth."""

    def __init__(self, seed: int = 0, bs: int = 2, n_batches: int = 1, dropout: float = 0.0):
        g = torch.Generator().manual_seed(seed)
        self.proj = torch.randn(N, 6, generator=g) / N**0.5
        self.encoder = nn.Sequential(
            nn.Linear(6, 3), nn.Tanh(), nn.Dropout(dropout), nn.Linear(3, N_THETA), nn.Sigmoid()
        )
        with torch.no_grad():
            for p in self.encoder.parameters():
                p.copy_(torch.randn(p.shape, generator=g))
        self.encoder.eval()
        self.synth_w = torch.randn(N_THETA, N, generator=g)
        self.synth_b = torch.randn(N, generator=g)
        self.batches = [torch.rand(bs, 1, N, generator=g) for _ in range(n_batches)]
        self.kwargs = [{"x": b} for b in self.batches]
        self.params = list(self.encoder.parameters())
        self.calls = 0

    def theta_fn(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.encoder(x.squeeze(1) @ self.proj)

    def synth_fn(self, theta: torch.Tensor) -> torch.Tensor:
        return torch.tanh(3 * theta @ self.synth_w + self.synth_b).unsqueeze(1)

    def run(self, loss: SCRAPLLoss, save_dir, **kwargs):
        return loss.warmup_lc_hvp(
            theta_fn=self.theta_fn,
            synth_fn=self.synth_fn,
            theta_fn_kwargs=self.kwargs,
            params=self.params,
            save_dir=save_dir,
            **kwargs,
        )


def vals_matrix(save_dir: Path, n_paths: int, n_theta: int = N_THETA) -> torch.Tensor:
    out = torch.empty(n_theta, n_paths, dtype=torch.float64)
    for p in range(n_paths):
        for u in range(n_theta):
            obj = torch.load(save_dir / f"vals_{p}_{u}.pt", weights_only=True)
            out[u, p] = obj["value"]
    return out


# -- the operator and its power iteration -----------------------------------------------------


def explicit_operators(setup: Setup, loss: SCRAPLLoss, path_idx: int):
    """In float64: w0, g_u(w) for every u (the part of ∇_w loss_p flowing through θ_u), and
    loss_p(w), for the explicit matrices of torch.autograd.functional."""
    names = [n for n, _ in setup.encoder.named_parameters()]
    shapes = [p.shape for p in setup.params]
    sizes = [p.numel() for p in setup.params]
    w0 = torch.cat([p.detach().flatten() for p in setup.params]).double()
    x = setup.batches[0].double().squeeze(1)
    enc = setup.encoder.double()
    proj, synth_w, synth_b = setup.proj.double(), setup.synth_w.double(), setup.synth_b.double()
    loss = loss.double()

    def unflat(w):
        return {n: t.view(s) for n, t, s in zip(names, w.split(sizes), shapes, strict=True)}

    def loss_of_theta(theta):
        x_hat = torch.tanh(3 * theta @ synth_w + synth_b)
        return path_distance(loss.jtfs(x_hat, path_idx), loss.jtfs(x, path_idx), loss.p).mean()

    def theta_of(w):
        return functional_call(enc, unflat(w), (x @ proj,))

    def g(u):
        def fn(w):
            w = w if w.requires_grad else w.detach().requires_grad_()
            theta = theta_of(w)
            (s,) = torch.autograd.grad(loss_of_theta(theta), theta, create_graph=True)
            (gw,) = torch.autograd.grad(theta[:, u], w, grad_outputs=s[:, u], create_graph=True)
            return gw

        return fn

    return w0, [g(u) for u in range(N_THETA)], lambda w: loss_of_theta(theta_of(w))


def test_power_iteration_matches_exact_eigenvalue(tmp_path):
    setup = Setup(seed=5)  # eigenvalue gaps |λ2/λ1| <= 0.15 at these paths
    loss = make_loss()
    paths = [0, loss.n_paths - 1]
    for p in paths:
        setup.run(loss, tmp_path, start_path_idx=p, end_path_idx=p + 1, n_iter=60)
    for p in paths:
        w0, gs, loss_p = explicit_operators(setup, loss, p)
        mats = [torch.autograd.functional.jacobian(g, w0) for g in gs]
        # Summed over θ dims, the per-dim Jacobians are the Hessian of loss_p in w.
        hess = torch.autograd.functional.hessian(loss_p, w0)
        torch.testing.assert_close(sum(mats), hess, rtol=1e-6, atol=1e-10)
        v = torch.randn(w0.shape, generator=torch.Generator().manual_seed(p), dtype=w0.dtype)
        for u, (g, a) in enumerate(zip(gs, mats, strict=True)):
            # the double backward (through the JTFS's custom backward passes) against
            # central finite differences of the first-order gradient
            eps = 1e-5
            fd = (g(w0 + eps * v).detach() - g(w0 - eps * v).detach()) / (2 * eps)
            torch.testing.assert_close(a @ v, fd, rtol=1e-5, atol=1e-6 * fd.abs().max())
            eig = torch.linalg.eigvals(a)
            mags = eig.abs().sort(descending=True).values
            top = eig[eig.abs().argmax()]
            assert abs(top.imag) < 1e-9 * mags[0]  # real dominant eigenvalue
            assert mags[1] < 0.5 * mags[0], "test set-up needs an eigenvalue gap"
            got = torch.load(tmp_path / f"vals_{p}_{u}.pt", weights_only=True)["value"]
            assert got == pytest.approx(mags[0].item(), rel=1e-3)
    setup.encoder.float()
    loss.float()


# -- probabilities ------------------------------------------------------------------------


def test_probs_sum_to_one_and_respect_floor(tmp_path, caplog):
    setup = Setup(seed=1)
    loss = make_loss(min_prob_frac=0.5)
    with caplog.at_level(logging.INFO, logger="scrapl.scrapl_loss"):
        probs = setup.run(loss, tmp_path, n_iter=3)
    P = loss.n_paths
    assert probs.dtype == torch.float64 and probs.shape == (P,)
    assert probs.sum().item() == pytest.approx(1.0, abs=1e-12)
    assert (probs >= 0.5 / P - 1e-12).all()
    assert not torch.allclose(probs, torch.full_like(probs, 1 / P))
    torch.testing.assert_close(loss.probs, probs)
    # π = floor applied once to the mean over θ of the normalised rows of C
    c = vals_matrix(tmp_path, P)
    expected = (c / c.sum(1, keepdim=True)).mean(0)
    torch.testing.assert_close(probs, 0.5 * expected + 0.5 / P)
    # probs.pt holds π before the floor: load_probs applies the loss's own floor once
    torch.testing.assert_close(torch.load(tmp_path / "probs.pt", weights_only=True), expected)
    other = make_loss(min_prob_frac=0.5)
    other.load_probs(tmp_path / "probs.pt")
    torch.testing.assert_close(other.probs, probs)
    text = caplog.text
    assert (
        "Starting warmup_lc_hvp with agg = none for 4 parameter(s) and 1 batch(es), 3 iter "
        "(multibatch = False)" in text
    )
    assert re.search(r"path_idx = 0, curr_vals = tensor\(\[[0-9.e+-]+, [0-9.e+-]+\]\)", text)
    assert f"Saving warmup SCRAPL sampling probabilities to {tmp_path}/probs.pt" in text
    assert loss.step == 0 and not loss.path_counts  # warmup is not a training step


def test_probs_from_vals_is_mean_of_normalised_rows():
    c = torch.tensor([[1.0, 3.0], [2.0, 2.0]], dtype=torch.float64)
    torch.testing.assert_close(probs_from_vals(c), torch.tensor([0.375, 0.625]).double())


# -- splitting, resuming ----------------------------------------------------------------------


def test_split_warmup_equals_one_go(tmp_path):
    setup = Setup(seed=2)
    loss = make_loss()
    P, k = loss.n_paths, 5
    one_go = setup.run(loss, tmp_path / "one", n_iter=4)
    assert setup.run(loss, tmp_path / "paths", end_path_idx=k, n_iter=4) is None
    by_paths = setup.run(loss, tmp_path / "paths", start_path_idx=k, n_iter=4)
    assert setup.run(loss, tmp_path / "theta", theta_idxs=[1], n_iter=4) is None
    by_theta = setup.run(loss, tmp_path / "theta", theta_idxs=[0], n_iter=4)
    for probs in (by_paths, by_theta):
        torch.testing.assert_close(probs, one_go, rtol=0, atol=1e-6)
    torch.testing.assert_close(
        vals_matrix(tmp_path / "one", P), vals_matrix(tmp_path / "theta", P), rtol=0, atol=1e-6
    )
    # another loss instance merges the same directory into the same π
    other = make_loss()
    torch.testing.assert_close(other.load_probs_from_warmup_dir(tmp_path / "paths"), one_go)


def test_killed_warmup_resumes_and_skips_existing_files(tmp_path):
    setup = Setup(seed=4)
    loss = make_loss()
    P, k = loss.n_paths, 6
    full = setup.run(make_loss(), tmp_path / "full", n_iter=3)
    assert setup.run(loss, tmp_path / "killed", end_path_idx=k, n_iter=3) is None
    assert not (tmp_path / "killed" / "probs.pt").exists()
    files = sorted((tmp_path / "killed").glob("vals_*.pt"))
    assert len(files) == k * N_THETA
    mtimes = {f.name: f.stat().st_mtime_ns for f in files}
    setup.calls = 0
    resumed = setup.run(loss, tmp_path / "killed", n_iter=3)
    assert setup.calls == P - k  # one encoder pass per path still to do (1 batch)
    assert {f.name: f.stat().st_mtime_ns for f in files} == mtimes
    torch.testing.assert_close(resumed, full, rtol=0, atol=1e-6)
    # a complete directory is not recomputed at all
    setup.calls = 0
    torch.testing.assert_close(setup.run(loss, tmp_path / "killed", n_iter=3), full)
    assert setup.calls == 0
    assert not list((tmp_path / "killed").glob("*.tmp"))


def test_multibatch_value_is_mean_over_batches(tmp_path):
    setup = Setup(seed=5, n_batches=2)
    loss = make_loss()
    setup.run(loss, tmp_path / "both", end_path_idx=1, n_iter=40)
    both = torch.load(tmp_path / "both" / "vals_0_0.pt", weights_only=True)
    assert len(both["batch_eigs"]) == 2
    singles = []
    for b in range(2):
        one = Setup(seed=5, n_batches=2)
        one.kwargs = [one.kwargs[b]]
        one.run(loss, tmp_path / f"b{b}", end_path_idx=1, n_iter=40)
        singles.append(torch.load(tmp_path / f"b{b}" / "vals_0_0.pt", weights_only=True)["value"])
    assert both["value"] == pytest.approx(sum(singles) / 2, rel=1e-3)


@pytest.mark.parametrize("use_hooks", [True, False])
def test_warmup_with_attached_params_leaves_pathwise_state_alone(tmp_path, use_hooks):
    setup = Setup(seed=6)
    loss = make_loss()
    loss.attach_params(setup.params, use_hooks=use_hooks)
    setup.run(loss, tmp_path, end_path_idx=2, n_iter=2)
    assert len(loss.attached.handles) == 2 * len(setup.params)  # pre- and post-accumulate hooks
    assert loss.pathwise.memory_bytes() == 0 and loss.attached.pending == {}
    # the hooks still work: a training step transforms the gradients
    loss.train()
    x_hat = setup.synth_fn(setup.theta_fn(setup.batches[0]))
    loss(x_hat, setup.batches[0], path_idx=0).backward()
    if not use_hooks:
        loss.transform_grads()
    assert all(p.grad is not None for p in setup.params)
    assert loss.pathwise.memory_bytes() > 0


# -- errors --------------------------------------------------------------------------------


def test_configuration_mismatch_is_refused(tmp_path):
    setup = Setup(seed=7)
    loss = make_loss()
    setup.run(loss, tmp_path, end_path_idx=1, n_iter=2)
    with pytest.raises(ValueError, match=r"mismatch.*n_iter: saved 2, now 3"):
        setup.run(loss, tmp_path, end_path_idx=1, n_iter=3)
    with pytest.raises(ValueError, match=r"mismatch.*data_sha256"):
        Setup(seed=8).run(loss, tmp_path, end_path_idx=1, n_iter=2)
    with pytest.raises(ValueError, match=r"mismatch.*loss_config"):
        setup.run(make_loss(J_fr=3), tmp_path, end_path_idx=1, n_iter=2)
    with pytest.raises(ValueError, match=r"mismatch.*use_rho_log1p"):
        make_loss(use_rho_log1p=True).load_probs_from_warmup_dir(tmp_path)


def test_missing_entries_warn_and_use_theta_means(tmp_path, caplog):
    setup = Setup(seed=9)
    loss = make_loss()
    P = loss.n_paths
    setup.run(loss, tmp_path, end_path_idx=P - 1, n_iter=2)
    setup.run(loss, tmp_path, start_path_idx=P - 1, theta_idxs=[0], n_iter=2)
    with caplog.at_level(logging.WARNING, logger="scrapl.scrapl_loss"):
        probs = make_loss().load_probs_from_warmup_dir(tmp_path)
    assert f"1 of {P * N_THETA} (path, θ) values are missing: (p={P - 1}, u=1)" in caplog.text
    c = torch.zeros(N_THETA, P, dtype=torch.float64)
    for p in range(P):
        for u in range(N_THETA):
            f = tmp_path / f"vals_{p}_{u}.pt"
            if f.exists():
                c[u, p] = torch.load(f, weights_only=True)["value"]
    c[1, P - 1] = c[1, : P - 1].mean()
    torch.testing.assert_close(probs, probs_from_vals(c))
    assert not (tmp_path / "probs.pt").exists()


def test_empty_or_foreign_directory_raises(tmp_path):
    loss = make_loss()
    with pytest.raises(ValueError, match="not a directory"):
        loss.load_probs_from_warmup_dir(tmp_path / "nope")
    with pytest.raises(ValueError, match="has no config.json"):
        loss.load_probs_from_warmup_dir(tmp_path)
    setup = Setup(seed=10)
    setup.run(loss, tmp_path, end_path_idx=1, n_iter=1)
    for f in tmp_path.glob("vals_*.pt"):
        f.unlink()
    with pytest.raises(ValueError, match="holds no warmup values"):
        loss.load_probs_from_warmup_dir(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="config.json"):
        loss.load_probs_from_warmup_dir(tmp_path)


@pytest.mark.parametrize(
    "content",
    [b"this is not a torch file", "foreign", "wrong_index"],
)
def test_corrupt_value_file_raises_naming_it(tmp_path, content):
    setup = Setup(seed=11)
    loss = make_loss()
    setup.run(loss, tmp_path, end_path_idx=2, n_iter=1)
    bad = tmp_path / "vals_1_0.pt"
    if content == "foreign":
        torch.save({"weights": torch.zeros(3)}, bad)
    elif content == "wrong_index":
        torch.save({"path_idx": 0, "theta_idx": 0, "value": 1.0}, bad)
    else:
        bad.write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(str(bad))):
        loss.load_probs_from_warmup_dir(tmp_path)
    with pytest.raises(ValueError, match=re.escape(str(bad))):
        setup.run(loss, tmp_path, end_path_idx=2, n_iter=1)  # the values are re-read


def test_check_is_deterministic(caplog):
    setup = Setup(seed=12, dropout=0.5)
    loss = make_loss()
    args = (setup.theta_fn, setup.kwargs[0], setup.synth_fn)
    assert loss.check_is_deterministic(*args) is True
    setup.encoder.train()  # dropout on
    with caplog.at_level(logging.WARNING, logger="scrapl.scrapl_loss"):
        assert loss.check_is_deterministic(*args) is False
    assert "encoder theta_fn is not deterministic" in caplog.text
    assert "synth_fn" not in caplog.text
    setup.encoder.eval()
    caplog.clear()

    def noisy_synth(theta, scale):
        return setup.synth_fn(theta) + scale * torch.randn(theta.shape[0], 1, N)

    with caplog.at_level(logging.WARNING, logger="scrapl.scrapl_loss"):
        ok = loss.check_is_deterministic(setup.theta_fn, setup.kwargs[0], noisy_synth, {"scale": 1})
    assert ok is False
    assert "synth synth_fn is not deterministic" in caplog.text
    assert "theta_fn is not" not in caplog.text
    with pytest.raises(TypeError, match="theta_fn_kwargs must be a dict"):
        loss.check_is_deterministic(setup.theta_fn, setup.kwargs, setup.synth_fn)
    with pytest.raises(TypeError, match="theta_fn must return a torch.Tensor"):
        loss.check_is_deterministic(lambda x: 1.0, setup.kwargs[0], setup.synth_fn)


@pytest.mark.parametrize(
    ("change", "exc", "pattern"),
    [
        (dict(theta_fn_kwargs={"x": None}), TypeError, r"^theta_fn_kwargs must be a list of dicts"),
        (dict(theta_fn_kwargs=[]), ValueError, r"^theta_fn_kwargs must hold at least one"),
        (dict(theta_fn_kwargs=[{"y": 1}]), ValueError, r"target_key='x'"),
        (dict(theta_fn_kwargs=[{"x": 1}]), TypeError, r"the target audio\) must be a torch"),
        (dict(synth_fn_kwargs=[{}, {}]), ValueError, r"^synth_fn_kwargs must hold one dict"),
        (dict(theta_fn=3), TypeError, r"^theta_fn must be a callable"),
        (dict(synth_fn=None), TypeError, r"^synth_fn must be a callable"),
        (dict(params=[]), ValueError, r"^params must hold at least one"),
        (dict(params=[torch.zeros(3)]), ValueError, r"^params\[0\] must require grad"),
        (dict(params=torch.zeros(3)), TypeError, r"^params must be a list of tensors"),
        (dict(start_path_idx=-1), ValueError, r"^start_path_idx must be an int >= 0"),
        (dict(start_path_idx=14), ValueError, r"^start_path_idx must be an int in \[0, n_paths"),
        (dict(start_path_idx=3, end_path_idx=3), ValueError, r"^end_path_idx must be None"),
        (dict(end_path_idx=15), ValueError, r"^end_path_idx must be None"),
        (dict(end_path_idx=1.5), TypeError, r"^end_path_idx must be an int"),
        (dict(theta_idxs=[0, 0]), ValueError, r"^theta_idxs must not repeat"),
        (dict(theta_idxs=[2]), ValueError, r"^theta_idxs must be None or a list .*n_theta=2"),
        (dict(theta_idxs=[]), ValueError, r"^theta_idxs must be None or a non-empty"),
        (dict(theta_idxs="0"), TypeError, r"^theta_idxs must be None or a list"),
        (dict(n_iter=0), ValueError, r"^n_iter must be an int >= 1"),
        (dict(save_dir=3), TypeError, r"^save_dir must be a str or os.PathLike"),
        (dict(target_key=0), TypeError, r"^target_key must be a str"),
        (
            dict(progress="bar"),
            ValueError,
            r"^progress must be one of path, total, none; got 'bar'",
        ),
    ],
)
def test_argument_validation(tmp_path, change, exc, pattern):
    setup = Setup(seed=13)
    kwargs = dict(
        theta_fn=setup.theta_fn,
        synth_fn=setup.synth_fn,
        theta_fn_kwargs=setup.kwargs,
        params=setup.params,
        save_dir=tmp_path,
        end_path_idx=1,
        n_iter=1,
    )
    kwargs.update(change)
    with pytest.raises(exc, match=pattern):
        make_loss().warmup_lc_hvp(**kwargs)


def test_output_shapes_are_validated(tmp_path):
    setup = Setup(seed=14)
    with pytest.raises(ValueError, match=r"shape \(batch, n_theta=3\).*got shape \(2, 2\)"):
        setup.run(make_loss(n_theta=3), tmp_path / "a", end_path_idx=1, n_iter=1)
    with pytest.raises(ValueError, match="does not depend on params"):
        make_loss().warmup_lc_hvp(
            lambda x: torch.rand(2, 2), setup.synth_fn, setup.kwargs, setup.params,
            save_dir=tmp_path / "b", end_path_idx=1, n_iter=1,
        )  # fmt: skip
    with pytest.raises(ValueError, match="does not depend on theta"):
        make_loss().warmup_lc_hvp(
            setup.theta_fn, lambda t: setup.synth_fn(t.detach()), setup.kwargs, setup.params,
            save_dir=tmp_path / "d", end_path_idx=1, n_iter=1,
        )  # fmt: skip
    with pytest.raises(ValueError, match=r"batch 0: synth_fn output .*shape .*got \(2, 1, 512\)"):
        make_loss().warmup_lc_hvp(
            setup.theta_fn, lambda t: setup.synth_fn(t)[..., :512], setup.kwargs, setup.params,
            save_dir=tmp_path / "c", end_path_idx=1, n_iter=1,
        )  # fmt: skip


# -- the seed README example -------------------------------------------------------------------

SEED_VALS = [
    [0.9898, 0.1256, 0.2016],
    [1.0082, 0.1349, 0.1406],
    [0.9389, 0.0788, 0.1565],
    [0.9059, 0.1199, 0.1678],
    [1.0138, 0.1352, 0.1418],
    [0.9248, 0.0741, 0.1556],
    [0.8879, 0.1157, 0.1654],
]
SEED_PROBS = (0.123653, 0.162354)


@pytest.mark.slow
def test_seed_example_reproduces_printed_numbers(tmp_path):
    save_dir = tmp_path / "scrapl_warmup"
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "warmup.py"), str(save_dir)],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    text = out.stdout + out.stderr
    rows = re.findall(r"path_idx = (\d+), curr_vals = tensor\(\[([^\]]*)\]\)", text)
    assert [int(p) for p, _ in rows] == list(range(7))
    got = torch.tensor([[float(v) for v in vals.split(",")] for _, vals in rows])
    torch.testing.assert_close(got, torch.tensor(SEED_VALS), rtol=0.02, atol=0)
    m = re.search(r"\(after warmup\): \[([0-9.]+), ([0-9.]+)\]", text)
    assert m, text
    assert float(m.group(1)) == pytest.approx(SEED_PROBS[0], rel=0.02)
    assert float(m.group(2)) == pytest.approx(SEED_PROBS[1], rel=0.02)
    assert f"Saving warmup SCRAPL sampling probabilities to {save_dir}/probs.pt" in text


WORKER = """
import sys
import torch
from torch import nn
from scrapl import SCRAPLLoss

save_dir, start, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.manual_seed(0)
n = 1024
encoder = nn.Sequential(nn.Linear(n, 3), nn.Tanh(), nn.Linear(3, 2), nn.Sigmoid())
synth = nn.Sequential(nn.Linear(2, n), nn.Tanh())
batches = [{"x": torch.rand(2, 1, n)}]
loss = SCRAPLLoss(shape=n, J=4, Q1=2, Q2=1, J_fr=2, Q_fr=1, n_theta=2)
loss.warmup_lc_hvp(
    theta_fn=lambda x: encoder(x.squeeze(1)),
    synth_fn=lambda theta: synth(theta).unsqueeze(1),
    theta_fn_kwargs=batches,
    params=list(encoder.parameters()),
    start_path_idx=start,
    end_path_idx=end,
    save_dir=save_dir,
    n_iter=4,
)
"""


def test_warmup_split_across_two_processes_equals_one_go(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    n_paths = make_loss().n_paths
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def start(save_dir, lo, hi):
        args = [sys.executable, str(script), str(save_dir), str(lo), str(hi)]
        return subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True)

    # Two processes share one directory concurrently, each with its own path range.
    workers = [start(tmp_path / "split", 0, 4), start(tmp_path / "split", 4, n_paths)]
    workers.append(start(tmp_path / "one", 0, n_paths))
    for w in workers:
        _, err = w.communicate(timeout=300)
        assert w.returncode == 0, err
    merged = make_loss().load_probs_from_warmup_dir(tmp_path / "split")
    one_go = torch.load(tmp_path / "one" / "probs.pt", weights_only=True)
    torch.testing.assert_close(merged, one_go, rtol=0, atol=1e-6)


def _bars(stderr: str) -> list[str]:
    """The final state of each tqdm bar written to ``stderr`` (its last refresh per line)."""
    return [line.split("\r")[-1].strip() for line in stderr.split("\n") if line.strip()]


def test_progress_one_bar_per_path_one_in_total_or_none(tmp_path, capsys):
    setup = Setup(seed=5, n_batches=2)
    n_iter = 3
    setup.run(make_loss(), tmp_path / "path", end_path_idx=3, n_iter=n_iter)
    bars = _bars(capsys.readouterr().err)
    assert [b.split(":")[0] for b in bars] == ["path 0", "path 1", "path 2"]
    assert all(f"{n_iter * 2}/{n_iter * 2}" in b for b in bars)

    # Two paths already done (a resumed warmup) count toward the one bar as well.
    setup.run(make_loss(), tmp_path / "total", end_path_idx=2, n_iter=n_iter, progress="total")
    capsys.readouterr()
    setup.run(make_loss(), tmp_path / "total", end_path_idx=4, n_iter=n_iter, progress="total")
    bars = _bars(capsys.readouterr().err)
    assert len(bars) == 1 and bars[0].startswith("θ-IS warmup")
    assert f"{4 * n_iter * 2}/{4 * n_iter * 2}" in bars[0]

    setup.run(make_loss(), tmp_path / "none", end_path_idx=2, n_iter=n_iter, progress="none")
    assert _bars(capsys.readouterr().err) == []
    # The bar changes nothing but the console: the same values in every mode.
    assert torch.equal(vals_matrix(tmp_path / "none", 2), vals_matrix(tmp_path / "path", 3)[:, :2])
    assert torch.equal(vals_matrix(tmp_path / "total", 4)[:, :3], vals_matrix(tmp_path / "path", 3))
