"""Tests of the TR-808 training shift (left padding, length kept)."""

from __future__ import annotations

import pytest
import torch

from experiments.training_shift import pad_shift


def test_values_of_a_per_example_shift():
    x = torch.arange(1.0, 11.0).repeat(3, 1)  # (3, 10): 1 .. 10
    out = pad_shift(x, torch.tensor([-2, 0, 3]), pad=2)
    assert torch.equal(out[0], x[0])  # -2 + 2 = no delay
    assert torch.equal(out[1], torch.tensor([0, 0, 1, 2, 3, 4, 5, 6, 7, 8.0]))
    assert torch.equal(out[2], torch.tensor([0, 0, 0, 0, 0, 1, 2, 3, 4, 5.0]))


def test_int_shift_channels_and_full_delay():
    x = torch.randn(2, 3, 50, dtype=torch.float64)
    out = pad_shift(x, 4, pad=6)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.equal(out[..., :10], torch.zeros(2, 3, 10, dtype=torch.float64))
    assert torch.equal(out[..., 10:], x[..., :40])
    assert torch.equal(pad_shift(x, 0, pad=50), torch.zeros_like(x))


def test_gradient_is_the_adjoint_shift():
    x = torch.randn(2, 20, requires_grad=True)
    shift = torch.tensor([1, -1])
    weights = torch.randn(2, 20)
    (pad_shift(x, shift, pad=3) * weights).sum().backward()
    expected = torch.zeros(2, 20)
    expected[0, :16] = weights[0, 4:]
    expected[1, :18] = weights[1, 2:]
    assert torch.equal(x.grad, expected)


@pytest.mark.parametrize(
    ("audio", "shift", "pad", "exc", "match"),
    [
        (torch.zeros(2, 10, dtype=torch.int32), 0, 2, TypeError, "floating-point"),
        (torch.zeros(10), 0, 2, ValueError, "shape"),
        (torch.zeros(2, 10), -3, 2, ValueError, "shift must be an int >= -2"),
        (torch.zeros(2, 10), 9, 2, ValueError, r"shift \+ pad must lie in \[0, n_samples\]"),
        (torch.zeros(2, 10), torch.tensor([0, -3]), 2, ValueError, "shift \\+ pad"),
        (torch.zeros(2, 10), torch.tensor([0.0, 1.0]), 2, TypeError, "integer tensor"),
        (torch.zeros(2, 10), torch.tensor([0, 1, 2]), 2, ValueError, r"shape \(batch,\)"),
        (torch.zeros(2, 10), 0, -1, ValueError, "pad"),
    ],
)
def test_bad_arguments(audio, shift, pad, exc, match):
    with pytest.raises(exc, match=match):
        pad_shift(audio, shift, pad=pad)
