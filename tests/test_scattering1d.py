"""Time scattering path by path: agreement with kymatio 0.3's Scattering1D, the full loss,
gradients, cost of a path and argument checks."""

import numpy as np
import pytest
import torch
from kymatio_reference import kymatio_numpy, kymatio_torch

from scrapl import Scattering1DLoss, Scattering1DSCRAPLLoss
from scrapl.losses.distance import path_distance
from scrapl.transforms.scattering1d import Scattering1D, Scattering1DConfig

# (shape, J, Q1, Q2, T): default and custom averaging, T not a power of two, a short odd
# length, T = N (one output sample), many first-order filters.
CONFIGS = [
    (1000, 6, 4, 2, None),
    (4096, 8, 8, 1, None),
    (777, 3, 2, 2, 5),
    (4096, 6, 1, 1, 100),
    (2048, 5, 12, 4, 2048),
]
TINY = dict(shape=256, J=3, Q1=2, Q2=1)

# Float64 agreement. Filters are stored as float32 buffers (relative rounding 6e-8, kept by
# .double()) and wavelets skip the bins where a filter is below 1e-7 of its peak
# (scrapl.transforms.windows); everything else is the reference's arithmetic. A path's
# relative error is then at most ~1e-7 times the ratio of the input's energy in those bins
# to the path's own energy, a ratio of at most ~10 for these white-noise inputs: 1e-5.
RTOL_FLOAT64 = 1e-5
# Float32 (both implementations): rounding of the first order, ~1e-7 of the transform's
# largest coefficients, reaches every path alike, so a weak path (1e-5 of the largest) gets
# a large *relative* error in both implementations (measured: they agree with float64 to the
# same digits). Tolerance: 1e-4 of the path plus 1e-6 of the largest path (eps32 = 6e-8 times
# ~16 rounding steps through FFTs of up to 2**14 points).
RTOL_FLOAT32, FLOOR_FLOAT32 = 1e-4, 1e-6


def _config(shape, J, Q1, Q2, T):
    return Scattering1DConfig(shape=shape, J=J, Q1=Q1, Q2=Q2, T=T)


def _signals(n, batch=2, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, n, generator=gen, dtype=torch.float64).to(dtype)


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_paths_are_kymatio_rows_in_meta_order(config):
    shape, J, Q1, Q2, T = config
    ours = Scattering1D(_config(*config))
    meta = kymatio_numpy.Scattering1D(J, shape, Q=(Q1, Q2), T=T).meta()
    keys = [tuple(int(i) for i in k) for k in meta["key"]]
    assert keys[0] == () and ours.n_paths == len(keys) - 1
    assert [p.key for p in ours.paths] == keys[1:]
    assert ours.n_paths == int(np.count_nonzero(np.isin(meta["order"], (1, 2))))


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_coefficients_match_kymatio_float64(config):
    shape, J, Q1, Q2, T = config
    x = _signals(shape)
    ref = kymatio_numpy.Scattering1D(J, shape, Q=(Q1, Q2), T=T).scattering(x.numpy())
    ours = Scattering1D(_config(*config)).double()
    for p in range(ours.n_paths):
        s = ours(x, p).numpy()
        assert s.shape == ref[:, p + 1].shape
        err = np.linalg.norm(s - ref[:, p + 1]) / np.linalg.norm(ref[:, p + 1])
        assert err <= RTOL_FLOAT64, (p, err)


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_coefficients_match_kymatio_torch_float32(config):
    shape, J, Q1, Q2, T = config
    x = _signals(shape, dtype=torch.float32)
    ref = kymatio_torch.Scattering1D(J, shape, Q=(Q1, Q2), T=T)(x)[:, 1:]
    ours = Scattering1D(_config(*config))
    largest = ref.norm(dim=(0, 2)).max()
    for p in range(ours.n_paths):
        err = (ours(x, p) - ref[:, p]).norm()
        assert err <= RTOL_FLOAT32 * ref[:, p].norm() + FLOOR_FLOAT32 * largest, p


@pytest.mark.parametrize("config", CONFIGS[:3], ids=str)
def test_path_distances_match_kymatio(config):
    shape, J, Q1, Q2, T = config
    x, y = _signals(shape, seed=1), _signals(shape, seed=2)
    kym = kymatio_numpy.Scattering1D(J, shape, Q=(Q1, Q2), T=T)
    ref = np.linalg.norm(kym.scattering(x.numpy()) - kym.scattering(y.numpy()), axis=-1)[:, 1:]
    loss = Scattering1DSCRAPLLoss(shape, J, Q1, Q2, T=T, reduction="none").double()
    for p in range(loss.n_paths):
        d = loss(x.unsqueeze(1), y.unsqueeze(1), path_idx=p).numpy()
        np.testing.assert_allclose(d, ref[:, p], rtol=RTOL_FLOAT64)


def test_shared_computation_equals_single_paths():
    ours = Scattering1D(_config(1000, 6, 4, 2, None)).double()
    x = _signals(1000)
    shared = list(ours.all_paths(x))
    assert [p for p, _ in shared] == list(range(ours.n_paths))
    for p, s in shared:
        assert torch.equal(s, ours(x, p))


def test_one_path_costs_one_first_and_at_most_one_second_order_convolution(monkeypatch):
    ours = Scattering1D(_config(1000, 6, 4, 2, None))
    calls = []
    for stage in ("first_order", "second_order"):
        original = getattr(ours, stage)
        monkeypatch.setattr(
            ours, stage, lambda *a, _f=original, _s=stage: calls.append(_s) or _f(*a)
        )
    x = _signals(1000, dtype=torch.float32)
    for p in (0, ours.n_paths // 2, ours.n_paths - 1):
        calls.clear()
        ours(x, p)
        order = ours.paths[p].order
        assert calls == ["first_order"] + ["second_order"] * (order - 1)


def test_mean_of_path_losses_equals_full_loss_values_and_gradients():
    scrapl = Scattering1DSCRAPLLoss(**TINY, use_p_adam=False, use_p_saga=False).double()
    full = Scattering1DLoss(**TINY).double()
    x = _signals(TINY["shape"], seed=3).unsqueeze(1).requires_grad_()
    y = _signals(TINY["shape"], seed=4).unsqueeze(1)
    mean_loss = sum(scrapl(x, y, path_idx=p) for p in range(scrapl.n_paths)) / scrapl.n_paths
    (grad_mean,) = torch.autograd.grad(mean_loss, x)
    full_loss = full(x, y)
    (grad_full,) = torch.autograd.grad(full_loss, x)
    # Same operations per path in both (bit-identical coefficients); only the order of the
    # sums differs: float64 rounding.
    torch.testing.assert_close(mean_loss, full_loss, rtol=1e-12, atol=0)
    torch.testing.assert_close(grad_mean, grad_full, rtol=1e-10, atol=1e-16)


@pytest.mark.parametrize("use_log1p", [False, True])
@pytest.mark.parametrize("T", [None, 3, 256])
def test_path_gradient_matches_finite_differences(use_log1p, T):
    ours = Scattering1D(Scattering1DConfig(**TINY, T=T)).double()
    x = _signals(TINY["shape"], seed=5).requires_grad_()
    y = _signals(TINY["shape"], seed=6)
    gen = torch.Generator().manual_seed(7)
    for p in (0, ours.n_paths // 2, ours.n_paths - 1):

        def loss(signal, p=p):
            return path_distance(ours(signal, p), ours(y, p), use_log1p=use_log1p).mean()

        (grad,) = torch.autograd.grad(loss(x), x)
        v = torch.randn(x.shape, generator=gen, dtype=x.dtype)
        eps = 1e-6
        with torch.no_grad():
            fd = (loss(x + eps * v) - loss(x - eps * v)) / (2 * eps)
        # Central differences: truncation O(eps²) ~ 1e-12, rounding ~ 1e-16 / eps = 1e-10
        # relative to the loss.
        torch.testing.assert_close((grad * v).sum(), fd, rtol=1e-6, atol=1e-12)


def test_transform_is_positively_homogeneous_and_zero_on_silence():
    ours = Scattering1D(Scattering1DConfig(**TINY)).double()
    x = _signals(TINY["shape"])
    for p in range(ours.n_paths):
        s = ours(x, p)
        assert (s >= 0).all() and s.abs().max() > 0
        torch.testing.assert_close(ours(-3.0 * x, p), 3.0 * s, rtol=1e-12, atol=1e-15)
        assert ours(torch.zeros_like(x), p).abs().max() == 0


def test_gradient_at_silence_is_finite():
    loss = Scattering1DSCRAPLLoss(**TINY)
    x = torch.zeros(1, 1, TINY["shape"], requires_grad=True)
    for p in range(loss.n_paths):
        loss(x, torch.zeros_like(x), path_idx=p).backward()
    assert torch.isfinite(x.grad).all()


def test_filters_are_buffers_that_follow_dtype_and_stay_out_of_state_dict():
    loss = Scattering1DLoss(**TINY)
    assert len(list(loss.buffers())) > 0 and loss.state_dict() == {}
    loss.double()
    assert any(b.dtype == torch.float64 for b in loss.buffers())
    x = torch.randn(1, 1, TINY["shape"], dtype=torch.float64)
    assert loss(x, 2 * x).dtype == torch.float64


def test_averaging_by_fft_equals_averaging_by_matrix(monkeypatch):
    import scrapl.transforms.scattering1d.transform as module

    x = _signals(1000)
    by_matrix = Scattering1D(_config(1000, 6, 4, 2, None)).double()
    assert all(by_matrix.avg_by_matrix.values())
    monkeypatch.setattr(module, "MAX_MATRIX_ELEMENTS", 0)
    by_fft = Scattering1D(_config(1000, 6, 4, 2, None)).double()
    assert not any(by_fft.avg_by_matrix.values())
    # The same low-pass, rounded to float32 once as a matrix and once as a spectrum
    # (6e-8 relative each), summed over up to ~30 terms of alternating sign: 1e-6.
    for p in range(by_fft.n_paths):
        torch.testing.assert_close(by_fft(x, p), by_matrix(x, p), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(shape=1), ValueError, "shape"),
        (dict(shape=256.0), TypeError, "shape"),
        (dict(J=0), ValueError, "J"),
        (dict(J=9), ValueError, "J must satisfy 2\\*\\*J <= shape"),
        (dict(Q1=0), ValueError, "Q1"),
        (dict(Q2="2"), TypeError, "Q2"),
        (dict(T=0), ValueError, "T must be"),
        (dict(T=257), ValueError, "T must be"),
        (dict(T="global"), TypeError, "T must be"),
    ],
)
def test_bad_configuration_is_rejected_with_the_argument_named(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Scattering1DSCRAPLLoss(**{**TINY, **kwargs})
    with pytest.raises(exc, match=match):
        Scattering1DLoss(**{**TINY, **kwargs})


def test_bad_signals_are_rejected_with_the_argument_named():
    loss = Scattering1DSCRAPLLoss(**TINY)
    good = torch.randn(2, 1, TINY["shape"])
    for bad in (torch.randn(2, 1, 255), torch.randn(TINY["shape"]), torch.randn(2, 1, 1, 1, 256)):
        with pytest.raises(ValueError, match=r"x must have shape \(batch, channels, 256\)"):
            loss(bad, bad)
    with pytest.raises(ValueError, match="x_target must have shape"):
        loss(good, torch.randn(2, 1, 128))
    with pytest.raises(ValueError, match="path_idx"):
        loss(good, good, path_idx=loss.n_paths)


def test_scrapl_utilities_come_with_the_loss():
    loss = Scattering1DSCRAPLLoss(**TINY, seed=0)
    x, y = torch.randn(2, 1, 256), torch.randn(2, 1, 256)
    a = loss(x, y, seed=42)
    assert loss(x, y, seed=42) == a and loss.curr_path_idx is not None
    assert loss.unif_prob == pytest.approx(1 / loss.n_paths)
    assert sum(loss.path_counts.values()) == 2
    state = loss.state_dict()
    other = Scattering1DSCRAPLLoss(**TINY, seed=1)
    other.load_state_dict(state)
    assert other.path_counts == loss.path_counts and other.step == loss.step
    with pytest.raises(ValueError, match="Scattering1DConfig"):
        Scattering1DSCRAPLLoss(**TINY, T=4).load_state_dict(state)  # same paths, other T
