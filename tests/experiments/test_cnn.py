"""Tests of the CQT -> θ̂ CNN encoder (Mitcheltree et al., ICLR 2026)."""

from __future__ import annotations

import pytest
import torch

from experiments.models.cnn import CNNEncoder, count_parameters

# Paper sizes: 5 octaves × 12 bins × 129 frames (N=32768, hop 256); 9 octaves for TR-808.
SHAPES = [(60, 129), (108, 173), (3, 5), (1, 1)]
TR808 = dict(pools=[(2, 2), (2, 2), (2, 3), (3, 3), (3, 3)], latent_dim=128, head_hidden=64)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.mark.parametrize("n_bins,n_frames", SHAPES)
@pytest.mark.parametrize("n_theta", [2, 14])
def test_output_shape_and_range(n_theta: int, n_bins: int, n_frames: int) -> None:
    model = CNNEncoder(n_theta).eval()
    x = torch.log1p(torch.rand(3, n_bins, n_frames) * 10)
    with torch.no_grad():
        y = model(x)
        y4 = model(x.unsqueeze(1))
    assert y.shape == (3, n_theta)
    assert torch.isfinite(y).all()
    assert ((y > 0) & (y < 1)).all()
    torch.testing.assert_close(y, y4)


def _expected_count(n_theta: int, channels: int, latent: int, hidden: int) -> int:
    """The paper's count by hand: conv weights + biases + one PReLU slope per block, embedding
    + PReLU, per head Linear + PReLU + Linear (layer norms have no parameters)."""
    blocks = (9 * channels + channels + 1) + 4 * (9 * channels * channels + channels + 1)
    embed = channels * latent + latent + 1
    head = latent * hidden + hidden + 1 + hidden + 1
    return blocks + embed + n_theta * head


def test_parameter_counts_are_the_papers() -> None:
    assert count_parameters(CNNEncoder(2)) == _expected_count(2, 128, 64, 32) == 604_106
    tr808 = CNNEncoder(14, dropout=0.25, **TR808)
    assert count_parameters(tr808) == _expected_count(14, 128, 128, 64) == 724_642


@pytest.mark.parametrize(
    "shape, kwargs, final",
    [((60, 129), {}, (1, 4)), ((108, 173), TR808, (1, 1)), ((3, 5), {}, (1, 1))],
)
def test_pooling_is_floor_and_stops_at_one(shape, kwargs, final) -> None:
    model = CNNEncoder(2, **kwargs)
    x = torch.rand(1, 1, *shape)
    with torch.no_grad():
        assert tuple(model.blocks(x).shape[-2:]) == final


def test_layer_norm_on_every_block_input() -> None:
    """The raw CQT is normalised per example: affine changes of the input change nothing,
    and each block's input has zero mean and unit variance per channel."""
    model = CNNEncoder(2).eval()
    x = torch.log1p(torch.rand(3, 60, 129) * 10)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(7.0 * x + 3.0), rtol=0, atol=1e-5)
    seen = []
    hooks = [
        b.conv.register_forward_pre_hook(lambda _m, a: seen.append(a[0])) for b in model.blocks
    ]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    assert len(seen) == 5
    for inp in seen[:-1]:  # the last block's input is 3 x 8: still normalised
        torch.testing.assert_close(
            inp.mean(dim=(-2, -1)), torch.zeros(inp.shape[:2]), atol=1e-5, rtol=0
        )
        var = inp.var(dim=(-2, -1), unbiased=False)
        torch.testing.assert_close(var, torch.ones_like(var), atol=1e-3, rtol=0)
    assert not any(p.numel() for b in model.blocks for n, p in b.named_parameters() if "norm" in n)


def test_parameter_count_independent_of_input_size() -> None:
    model = CNNEncoder(2)
    before = count_parameters(model)
    with torch.no_grad():
        for n_bins, n_frames in SHAPES:
            model(torch.rand(1, n_bins, n_frames))
    assert count_parameters(model) == before


def test_gradients_reach_every_parameter() -> None:
    model = CNNEncoder(3).train()
    x = torch.rand(4, 60, 129)
    model(x).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_eval_deterministic_train_dropout_stochastic() -> None:
    model = CNNEncoder(2)
    x = torch.rand(4, 24, 33)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x), rtol=0, atol=0)
    model.train()
    with torch.no_grad():
        assert not torch.allclose(model(x), model(x))


def test_batch_independence_eval() -> None:
    model = CNNEncoder(2).eval()
    x = torch.rand(5, 60, 129)
    with torch.no_grad():
        batched = model(x)
        for i in range(x.shape[0]):
            torch.testing.assert_close(model(x[i : i + 1])[0], batched[i], rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs,exc,name",
    [
        ({"n_theta": 0}, ValueError, "n_theta"),
        ({"n_theta": 2.0}, TypeError, "n_theta"),
        ({"n_theta": True}, TypeError, "n_theta"),
        ({"n_theta": 2, "n_blocks": 0}, ValueError, "n_blocks"),
        ({"n_theta": 2, "channels": -1}, ValueError, "channels"),
        ({"n_theta": 2, "kernel_size": 4}, ValueError, "kernel_size"),
        ({"n_theta": 2, "kernel_size": "3"}, TypeError, "kernel_size"),
        ({"n_theta": 2, "latent_dim": 0}, ValueError, "latent_dim"),
        ({"n_theta": 2, "head_hidden": 0}, ValueError, "head_hidden"),
        ({"n_theta": 2, "dropout": 1.0}, ValueError, "dropout"),
        ({"n_theta": 2, "dropout": -0.1}, ValueError, "dropout"),
        ({"n_theta": 2, "dropout": "0.5"}, TypeError, "dropout"),
        ({"n_theta": 2, "pools": [(2, 2)] * 4}, ValueError, "pools"),
        ({"n_theta": 2, "pools": [(2, 2)] * 4 + [(2, 0)]}, ValueError, "pools"),
        ({"n_theta": 2, "pools": [(2, 2)] * 4 + [2]}, TypeError, "pools"),
        ({"n_theta": 2, "pools": "2x2"}, TypeError, "pools"),
    ],
)
def test_bad_constructor_args(kwargs: dict, exc: type, name: str) -> None:
    with pytest.raises(exc, match=name):
        CNNEncoder(**kwargs)


@pytest.mark.parametrize(
    "x,exc",
    [
        (torch.rand(60, 129), ValueError),
        (torch.rand(2, 3, 60, 129), ValueError),
        (torch.rand(2, 1, 1, 60, 129), ValueError),
        (torch.rand(2, 0, 129), ValueError),
        (torch.rand(0, 60, 129), ValueError),
        (torch.ones(2, 60, 129, dtype=torch.long), TypeError),
        ([[0.0]], TypeError),
    ],
)
def test_bad_input_shapes(x: object, exc: type) -> None:
    model = CNNEncoder(2)
    with pytest.raises(exc, match="features"):
        model(x)


def test_count_parameters_rejects_non_module() -> None:
    with pytest.raises(TypeError, match="module"):
        count_parameters(torch.zeros(3))
