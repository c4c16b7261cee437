"""Tests of the audio -> θ̂ encoder (experiments/models/encoder.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from experiments.models.cnn import CNNEncoder, count_parameters
from experiments.models.cqt import CQTFeatures
from experiments.models.encoder import AudioEncoder


@pytest.fixture(scope="module")
def encoder() -> AudioEncoder:
    torch.manual_seed(0)
    return AudioEncoder(CQTFeatures(), CNNEncoder(n_theta=2))


@pytest.fixture(scope="module")
def audio() -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randn(3, 1, 8192)


def test_output_shape_and_range(encoder, audio):
    encoder.eval()
    with torch.no_grad():
        theta_hat = encoder(audio)
    assert theta_hat.shape == (3, 2)
    assert ((theta_hat > 0) & (theta_hat < 1)).all()
    assert encoder.n_theta == 2


def test_parameter_count_is_the_cnn_count(encoder):
    assert count_parameters(encoder) == count_parameters(encoder.net) == 604_106
    assert sum(p.numel() for p in encoder.features.parameters()) == 0


def test_eval_deterministic_train_dropout_differs(encoder, audio):
    encoder.eval()
    with torch.no_grad():
        a, b = encoder(audio), encoder(audio)
    assert torch.equal(a, b)
    encoder.train()
    torch.manual_seed(2)
    with torch.no_grad():
        c, d = encoder(audio), encoder(audio)
    encoder.eval()
    assert not torch.equal(c, d)


def test_gradients_reach_net_not_audio(encoder, audio):
    encoder.train()
    encoder.zero_grad()
    encoder(audio).sum().backward()
    grads = [p.grad for p in encoder.net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert audio.grad is None
    encoder.zero_grad()
    encoder.eval()


def test_differentiable_wrt_audio(encoder, audio):
    x = audio[:1].clone().requires_grad_(True)
    encoder.eval()
    encoder(x).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    encoder.zero_grad()


def test_n_theta_absent_and_bad_modules():
    enc = AudioEncoder(nn.Identity(), nn.Flatten())
    assert enc.n_theta is None
    with pytest.raises(TypeError, match="features"):
        AudioEncoder(lambda x: x, nn.Identity())
    with pytest.raises(TypeError, match="net"):
        AudioEncoder(nn.Identity(), "cnn")
