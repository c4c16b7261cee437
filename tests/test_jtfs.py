"""The JTFS transform and full loss: reference figures, unbiasedness identity, gradients."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import scrapl.transforms.jtfs.transform as jtfs_module
from scrapl import JTFS, JTFSConfig, JTFSLoss, SCRAPLLoss
from scrapl.losses.distance import path_distance

DATA = Path(__file__).parent / "data"
TINY = dict(shape=1024, J=5, Q1=3, Q2=1, J_fr=2, Q_fr=1)


REFERENCES = [
    "jtfs_4096_J6_Q4-1_Jfr2_Qfr1",
    "jtfs_8192_J8_Q4-2_Jfr3_Qfr2_T1024_F4_log1p",  # T and F set, log1p
    "jtfs_16384_J10_Q6-2_Jfr3_Qfr2",
]


def _reference_loss(data) -> JTFSLoss:
    cfg = json.loads(str(data["config"]))
    return JTFSLoss(
        cfg["shape"], cfg["J"], cfg["Q1"], cfg["Q2"], cfg["J_fr"], cfg["Q_fr"],
        T=cfg["T"], F=cfg["F"], use_rho_log1p=cfg["use_rho_log1p"],
    )  # fmt: skip


@pytest.fixture(scope="module")
def reference():
    return np.load(DATA / f"{REFERENCES[0]}.npz")


@pytest.fixture(scope="module")
def ref_loss(reference):
    return _reference_loss(reference)


def _spins_swapped(per_path: np.ndarray, n_fr: int) -> np.ndarray:
    """Per-path values with spin +1 and spin −1 exchanged (n_fr 1..K <-> K+1..2K)."""
    k = (n_fr - 1) // 2
    n = np.arange(per_path.size) % n_fr
    shift = np.where(n == 0, 0, np.where(n <= k, k, -k))
    return per_path[np.arange(per_path.size) + shift]


@pytest.mark.parametrize("name", REFERENCES)
def test_per_path_distances_match_reference(name):
    data = np.load(DATA / f"{name}.npz")
    loss = _reference_loss(data)
    assert loss.n_paths == data["dists"].size
    with torch.no_grad():
        dists = loss.path_losses(torch.tensor(data["x"]), torch.tensor(data["y"])).double()
    np.testing.assert_allclose(dists.numpy(), data["dists"], rtol=1e-4)
    # The files tell the spins apart: with +1 and −1 exchanged most paths fail.
    swapped = _spins_swapped(dists.numpy(), n_fr=len(loss.jtfs.bank.psi_fr))
    rel = np.abs(swapped - data["dists"]) / data["dists"]
    assert np.mean(rel > 1e-4) > 0.5


def _chirps(n: int, period: int) -> np.ndarray:
    """A train of exponential chirps from 0.03 to 0.35 cycles/sample (rising frequency)."""
    t = np.arange(period)
    rate = np.log(0.35 / 0.03) / period
    one = np.sin(2 * np.pi * 0.03 * np.expm1(rate * t) / rate) * np.hanning(period)
    return np.tile(one, n // period)


def test_up_and_down_chirps_put_their_energy_on_opposite_spins():
    """Path order: p = rank(n2) * (1 + 2K) + n_fr, n_fr = 1..K spin +1, K+1..2K spin −1.

    Spin +1 (ψfr at positive frequencies along λ1, whose rows run from the highest frequency
    down) is the spin of rising frequency, in the order of the reference files (test above).
    Energy is counted over the signal's own time span: on the whole padded grid the reflect
    padding adds the time-reversed signal, i.e. the opposite chirps.
    """
    cfg = dict(shape=4096, J=6, Q1=4, Q2=1, J_fr=2, Q_fr=1)
    jtfs = JTFS(JTFSConfig(**cfg))
    n_fr = len(jtfs.bank.psi_fr)
    k = (n_fr - 1) // 2
    n, pad, n_padded = cfg["shape"], jtfs.bank.pad_left, jtfs.bank.n_padded
    up = _chirps(n, 1024).astype(np.float32)
    for signal, rising in ((up, True), (up[::-1].copy(), False)):
        energy = {+1: 0.0, -1: 0.0}
        for p, s in jtfs.all_paths(torch.tensor(signal)[None]):
            if p % n_fr == 0:
                continue
            t = s.shape[-1]
            inside = s[0, :, pad * t // n_padded : (pad + n) * t // n_padded]
            energy[+1 if p % n_fr <= k else -1] += float(inside.square().sum())
        ratio = energy[+1] / energy[-1]
        assert ratio > 10 if rising else ratio < 0.1, (rising, ratio)


def test_single_path_transform_matches_shared_computation(reference, ref_loss):
    x = torch.tensor(reference["x"][:, 0], dtype=torch.float64)
    jtfs = ref_loss.jtfs.double()
    try:
        shared = dict(jtfs.all_paths(x))
        assert sorted(shared) == list(range(jtfs.n_paths))
        for p in range(jtfs.n_paths):
            torch.testing.assert_close(jtfs(x, p), shared[p], rtol=1e-12, atol=1e-15)
    finally:
        jtfs.float()


def test_mean_of_path_losses_equals_full_loss_values_and_gradients():
    torch.manual_seed(0)
    scrapl = SCRAPLLoss(**TINY, use_p_adam=False, use_p_saga=False).double()
    full = JTFSLoss(**TINY).double()
    x = torch.randn(2, 1, TINY["shape"], dtype=torch.float64, requires_grad=True)
    y = torch.randn(2, 1, TINY["shape"], dtype=torch.float64)
    mean_loss = sum(scrapl(x, y, path_idx=p) for p in range(scrapl.n_paths)) / scrapl.n_paths
    (grad_mean,) = torch.autograd.grad(mean_loss, x)
    full_loss = full(x, y)
    (grad_full,) = torch.autograd.grad(full_loss, x)
    torch.testing.assert_close(mean_loss, full_loss, rtol=1e-10, atol=0)
    torch.testing.assert_close(grad_mean, grad_full, rtol=1e-8, atol=1e-14)


@pytest.mark.parametrize("use_log1p", [False, True])
@pytest.mark.parametrize("averaging", [dict(), dict(T=128, F=2), dict(T="global", F="global")])
def test_path_gradient_matches_finite_differences(use_log1p, averaging):
    torch.manual_seed(1)
    jtfs = JTFS(JTFSConfig(**TINY, **averaging)).double()
    x = torch.randn(2, TINY["shape"], dtype=torch.float64, requires_grad=True)
    y = torch.randn(2, TINY["shape"], dtype=torch.float64)
    for p in (0, jtfs.n_paths // 2 + 1, jtfs.n_paths - 1):

        def loss(signal, p=p):
            return path_distance(jtfs(signal, p), jtfs(y, p), use_log1p=use_log1p).mean()

        (grad,) = torch.autograd.grad(loss(x), x)
        v = torch.randn_like(x)
        eps = 1e-6
        with torch.no_grad():
            fd = (loss(x + eps * v) - loss(x - eps * v)) / (2 * eps)
        torch.testing.assert_close((grad * v).sum(), fd, rtol=1e-6, atol=1e-12)


def test_batch_chunks_give_the_same_coefficients_and_gradients(monkeypatch):
    jtfs = JTFS(JTFSConfig(**TINY)).double()
    x = torch.randn(5, TINY["shape"], dtype=torch.float64, requires_grad=True)
    w = torch.randn(5, 1, 1, dtype=torch.float64)
    assert len(jtfs.batch_chunks(x)) == 1
    whole = [jtfs(x, p) for p in (0, jtfs.n_paths - 1)]
    (g_whole,) = torch.autograd.grad(sum((w * s).sum() for s in whole), x)
    monkeypatch.setattr(jtfs_module, "CPU_CHUNK_BYTES", 1)  # one signal per chunk
    assert [len(c) for c in jtfs.batch_chunks(x)] == [1] * 5
    chunked = [jtfs(x, p) for p in (0, jtfs.n_paths - 1)]
    (g_chunked,) = torch.autograd.grad(sum((w * s).sum() for s in chunked), x)
    for a, b in zip(whole, chunked, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(g_chunked, g_whole, rtol=1e-10, atol=1e-15)


def test_output_shapes_follow_averaging():
    x = torch.randn(3, TINY["shape"])
    local = JTFS(JTFSConfig(**TINY))
    n_time = local.bank.n_padded // 2 ** TINY["J"]
    n_freq = local.bank.n_fr_padded // 2 ** TINY["J_fr"]
    for p in range(local.n_paths):
        assert local(x, p).shape == (3, n_freq, n_time)
    glob = JTFS(JTFSConfig(**TINY, T="global", F="global"))
    for p in range(glob.n_paths):
        expected_freq = n_freq if glob.paths[p].spin == 0 else 1
        assert glob(x, p).shape == (3, expected_freq, 1)


def test_transform_is_positively_homogeneous_and_zero_on_silence():
    jtfs = JTFS(JTFSConfig(**TINY)).double()
    x = torch.randn(2, TINY["shape"], dtype=torch.float64)
    for p in (0, 5, jtfs.n_paths - 1):
        s = jtfs(x, p)
        assert (s >= 0).all() and s.abs().max() > 0
        torch.testing.assert_close(jtfs(-3.0 * x, p), 3.0 * s, rtol=1e-10, atol=1e-14)
        assert jtfs(torch.zeros_like(x), p).abs().max() == 0


def test_gradient_at_silence_is_finite():
    loss = SCRAPLLoss(**TINY)
    x = torch.zeros(1, 1, TINY["shape"], requires_grad=True)
    for p in range(loss.n_paths):
        loss(x, torch.zeros_like(x), path_idx=p).backward()
    assert torch.isfinite(x.grad).all()


def test_filters_are_buffers_that_follow_dtype_and_stay_out_of_state_dict():
    loss = JTFSLoss(**TINY)
    assert len(list(loss.buffers())) > 0 and loss.state_dict() == {}
    loss.double()
    assert all(b.dtype in (torch.float64, torch.int64) for b in loss.buffers())
    assert any(b.dtype == torch.float64 for b in loss.buffers())
    x = torch.randn(1, 1, TINY["shape"], dtype=torch.float64)
    assert loss(x, 2 * x).dtype == torch.float64


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(shape=0), "shape"),
        (dict(J="5"), "J"),
        (dict(Q1=0), "Q1"),
        (dict(Q2=1.5), "Q2"),
        (dict(J_fr=0), "J_fr"),
        (dict(Q_fr=-1), "Q_fr"),
        (dict(J=11), "J must satisfy"),
        (dict(T=0), "T must be"),
        (dict(T=10**6), "T must be"),
        (dict(T="local"), "T must be"),
        (dict(F=True), "F must be"),
        (dict(F=100), "F must be"),
    ],
)
def test_bad_configuration_is_rejected_with_the_argument_named(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        JTFSLoss(**{**TINY, **kwargs})


def test_path_idx_is_validated():
    jtfs = JTFS(JTFSConfig(**TINY))
    x = torch.randn(1, TINY["shape"])
    for bad, exc in [(-1, ValueError), (jtfs.n_paths, ValueError), (1.0, TypeError)]:
        with pytest.raises(exc, match="path_idx"):
            jtfs(x, bad)


def test_numpy_integer_path_idx_is_accepted():
    loss = SCRAPLLoss(**TINY)
    x = torch.randn(1, 1, TINY["shape"])
    loss(x, 2 * x, path_idx=np.int64(3))
    assert loss.curr_path_idx == 3 and type(loss.curr_path_idx) is int
