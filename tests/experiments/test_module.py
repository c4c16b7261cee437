"""SoundMatching (experiments/module.py) without Hydra or a Trainer: steps, metrics, hooks."""

from __future__ import annotations

import copy
import io
import math
import random
from functools import partial
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from experiments.data.recon_seeds import RECON_SEED_OFFSET, reconstruction_seeds
from experiments.losses.theta_loss import ThetaLoss
from experiments.module import SoundMatching, theta_l1_permille
from scrapl import SCRAPLLoss

N = 256  # samples per sound


class CountingSynth(nn.Module):
    """θ (B, 2) -> (B, 1, N) sine with θ-dependent pitch and level; records its seeds."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Tensor] = []

    def forward(self, theta: Tensor, seed: Tensor) -> Tensor:
        self.calls.append(seed.clone())
        t = torch.arange(N, dtype=theta.dtype) / N
        phase = ((seed % 997).to(theta.dtype) * 0.1)[:, None]  # seeds can be ~2**40
        freq = 8.0 + 40.0 * theta[:, :1]
        x = (0.2 + theta[:, 1:2]) * torch.sin(2 * math.pi * freq * t + phase)
        return x.unsqueeze(1)


class TinyEncoder(nn.Module):
    def __init__(self, dropout: float = 0.0) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(N, 8), nn.Tanh(), nn.Dropout(dropout), nn.Linear(8, 2),
            nn.Sigmoid(),
        )  # fmt: skip

    def forward(self, audio: Tensor) -> Tensor:
        return self.net(audio)


class AudioL1(nn.Module):
    def forward(self, x_hat: Tensor, x: Tensor) -> Tensor:
        return (x_hat - x).abs().mean()


def scrapl_loss(**kw) -> SCRAPLLoss:
    # 5 paths at N = 256: the smallest JTFS with every path kind.
    args = dict(shape=N, J=3, Q1=1, Q2=1, J_fr=1, Q_fr=1, n_theta=2, seed=0)
    return SCRAPLLoss(**{**args, **kw})


def sgd(params, lr: float = 0.1, **kw):
    return torch.optim.SGD(params, lr=lr, **kw)


def make(loss: nn.Module | None = None, optimizer=sgd, **kw) -> SoundMatching:
    torch.manual_seed(0)
    return SoundMatching(
        CountingSynth(), TinyEncoder(), AudioL1() if loss is None else loss, optimizer,
        ["pitch", "level"], **kw,
    )  # fmt: skip


def batch(b: int = 4, offset: int = 0) -> dict[str, Tensor]:
    g = torch.Generator().manual_seed(offset)
    seed = torch.arange(b) + offset
    return {"theta": torch.rand(b, 2, generator=g), "seed": seed, "point": seed}


def seed_hat(module: SoundMatching, b: dict[str, Tensor], stage: str) -> list[int]:
    """The reconstruction seeds the module must use (epoch 0: no trainer)."""
    return reconstruction_seeds(module.seed, stage, 0, b["seed"]).tolist()


@pytest.fixture
def logged(monkeypatch) -> dict[str, tuple[float, dict]]:
    """Replace LightningModule.log (which needs a Trainer) by a recorder."""
    out: dict[str, tuple[float, dict]] = {}

    def log(self, name, value, **kw):
        out[name] = (float(value), kw)

    monkeypatch.setattr(SoundMatching, "log", log)
    return out


# --------------------------------------------------------------------------- metric


def test_theta_l1_permille_by_hand() -> None:
    theta_hat = torch.tensor([[0.1, 0.5], [0.3, 0.9], [1.0, 0.0]], requires_grad=True)
    theta = torch.tensor([[0.0, 1.0], [0.5, 0.5], [0.0, 0.0]])
    # |diff| = [[.1, .5], [.2, .4], [1, 0]] -> column means [1.3/3, 0.9/3] -> x 1000
    out = theta_l1_permille(theta_hat, theta)
    assert out.shape == (2,) and not out.requires_grad
    torch.testing.assert_close(out, torch.tensor([1300 / 3, 300.0]))
    assert theta_l1_permille(theta, theta).tolist() == [0.0, 0.0]
    assert theta_l1_permille(torch.ones(5, 3), torch.zeros(5, 3)).tolist() == [1000.0] * 3


@pytest.mark.parametrize("stage", ["train", "val", "test"])
def test_logged_metrics(logged, stage) -> None:
    module = make(ThetaLoss())
    b = batch()
    step = {"train": module.training_step, "val": module.validation_step}.get(
        stage, module.test_step
    )
    loss = step(b, 1)
    with torch.no_grad():
        theta_hat = module.encoder(module.synth(b["theta"], b["seed"]))
    per_dim = 1000 * (theta_hat - b["theta"]).abs().mean(0)
    assert set(logged) == {
        f"{stage}/{k}" for k in ("loss", "theta_l1", "theta_l1_pitch", "theta_l1_level")
    }
    assert logged[f"{stage}/theta_l1"][0] == pytest.approx(per_dim.mean().item(), rel=1e-5)
    assert logged[f"{stage}/theta_l1_pitch"][0] == pytest.approx(per_dim[0].item(), rel=1e-5)
    assert logged[f"{stage}/theta_l1_level"][0] == pytest.approx(per_dim[1].item(), rel=1e-5)
    assert logged[f"{stage}/loss"][0] == pytest.approx(loss.item())
    expected = ((theta_hat - b["theta"]) ** 2).mean(0).sum()  # the P-loss sums over θ dims
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    kw = logged[f"{stage}/theta_l1"][1]
    assert kw["on_step"] == (stage == "train") and kw["on_epoch"] == (stage != "train")
    assert kw["batch_size"] == 4


# --------------------------------------------------------------------------- rendering


def test_theta_loss_does_not_render_x_hat_in_training(logged) -> None:
    module = make(ThetaLoss())
    assert module.compares == "theta"
    b = batch()
    loss = module.training_step(b, 0)
    # Only the target was rendered (with the target seeds), and the loss has a gradient.
    assert len(module.synth.calls) == 1 and torch.equal(module.synth.calls[0], b["seed"])
    loss.backward()
    assert all(p.grad is not None for p in module.encoder.parameters())
    module.synth.calls.clear()
    module.validation_step(b, 1)
    module.test_step(b, 0)
    assert len(module.synth.calls) == 2  # one target each, no reconstruction
    assert module.val_examples is None
    # The first validation batch renders x̂ (with the reconstruction seeds) for the callbacks.
    module.synth.calls.clear()
    module.validation_step(b, 0)
    expected = [b["seed"].tolist(), seed_hat(module, b, "val")]
    assert [c.tolist() for c in module.synth.calls] == expected
    assert module.val_examples["x_hat"].shape == (4, 1, N)


def test_audio_loss_renders_with_the_other_seed(logged) -> None:
    module = make(AudioL1(), n_val_examples=3)
    b = batch()
    module.training_step(b, 0)
    expected = [b["seed"].tolist(), seed_hat(module, b, "train")]
    assert [c.tolist() for c in module.synth.calls] == expected
    assert min(expected[1]) >= RECON_SEED_OFFSET  # never a target seed
    module.validation_step(b, 0)
    ex = module.val_examples
    assert set(ex) == {"x", "x_hat", "theta", "theta_hat"}
    assert ex["x"].shape == ex["x_hat"].shape == (3, 1, N) and ex["theta"].shape == (3, 2)
    assert not any(v.requires_grad for v in ex.values())
    torch.testing.assert_close(ex["x"], module.synth(b["theta"], b["seed"])[:3])
    assert torch.equal(ex["theta"], b["theta"][:3])


# --------------------------------------------------------------------------- SCRAPL sampler


def _sampler_state(loss: SCRAPLLoss) -> dict:
    return copy.deepcopy(loss.sampler.state_dict())


def test_scrapl_evaluation_leaves_the_training_sampler_alone(logged) -> None:
    loss = scrapl_loss()
    module = make(loss)
    assert module.samples_paths and module.pathwise
    b = batch()
    module.eval()
    before = _sampler_state(loss)
    paths = []
    for step, idx in ((module.validation_step, 0), (module.validation_step, 1),
                      (module.test_step, 0), (module.validation_step, 0)):  # fmt: skip
        step(b, idx)
        paths.append(loss.curr_path_idx)
        after = _sampler_state(loss)
        assert torch.equal(after["generator_state"], before["generator_state"])
        assert after["perm_pos"] == before["perm_pos"]
    assert loss.step == 0 and dict(loss.path_counts) == {}
    assert paths[0] == paths[2] == paths[3]  # a fixed path per batch index
    # Training does advance it, and counts the path.
    module.train()
    module.training_step(b, 0)
    assert loss.step == 1 and dict(loss.path_counts) == {loss.curr_path_idx: 1}
    assert not torch.equal(_sampler_state(loss)["generator_state"], before["generator_state"])
    assert logged["train/path_idx"][0] == loss.curr_path_idx


# --------------------------------------------------------------------------- P-Adam hook


def _grads_after_hook(module: SoundMatching, accumulate: int = 1) -> tuple[list, list]:
    module.trainer = SimpleNamespace(accumulate_grad_batches=accumulate, current_epoch=0)
    module.setup("fit")
    opt = module.configure_optimizers()
    module.train()
    module.training_step(batch(), 0).backward()
    raw = [p.grad.clone() for p in module.encoder.parameters()]
    module.on_before_optimizer_step(opt)
    return raw, [p.grad.clone() for p in module.encoder.parameters()]


def test_p_adam_transforms_gradients(logged) -> None:
    module = make(scrapl_loss(use_p_saga=False))
    raw, out = _grads_after_hook(module)
    # First visit of a path: P-Adam returns g / (eps + |g|) (g scaled by grad_mult): ~sign(g).
    for g, h in zip(raw, out, strict=True):
        assert not torch.equal(g, h)
        torch.testing.assert_close(h, torch.sign(g), atol=1e-4, rtol=0)


def test_p_adam_and_p_saga_transform_gradients(logged) -> None:
    module = make(scrapl_loss())
    raw, out = _grads_after_hook(module)
    assert all(not torch.equal(g, h) for g, h in zip(raw, out, strict=True))
    assert module.loss.pathwise.use_p_saga


@pytest.mark.parametrize("kind", ["plain_scrapl", "audio", "theta"])
def test_no_transform_without_pathwise_loss(logged, monkeypatch, kind) -> None:
    loss = {
        "plain_scrapl": lambda: scrapl_loss(use_p_adam=False, use_p_saga=False),
        "audio": AudioL1,
        "theta": ThetaLoss,
    }[kind]()
    module = make(loss)
    assert not module.pathwise and module.samples_paths == (kind == "plain_scrapl")
    calls = []
    if kind == "plain_scrapl":
        monkeypatch.setattr(loss, "transform_grads", lambda: calls.append(1))
    # Accumulation is allowed here: no per-path state to corrupt.
    raw, out = _grads_after_hook(module, accumulate=2)
    assert all(torch.equal(g, h) for g, h in zip(raw, out, strict=True))
    assert calls == []
    if kind == "plain_scrapl":
        assert loss.attached.params == []  # not attached


@pytest.mark.parametrize("kind", ["plain_scrapl", "audio"])
def test_grad_mult_scales_the_gradients_before_the_optimizer(logged, kind) -> None:
    make_loss = {"plain_scrapl": lambda: scrapl_loss(use_p_adam=False, use_p_saga=False)}
    loss = make_loss.get(kind, AudioL1)()
    raw, out = _grads_after_hook(make(loss, grad_mult=1e8))
    for g, h in zip(raw, out, strict=True):
        torch.testing.assert_close(h, 1e8 * g, rtol=1e-6, atol=0)
        assert h.abs().max() > 0


def test_grad_mult_refused_with_pathwise_losses() -> None:
    with pytest.raises(ValueError, match="grad_mult must be 1 with SCRAPLLoss"):
        make(scrapl_loss(), grad_mult=1e8)
    with pytest.raises(ValueError, match="grad_mult"):
        make(AudioL1(), grad_mult=0.0)


def test_setup_attaches_once_per_fit_and_refuses_accumulation() -> None:
    module = make(scrapl_loss())
    module.trainer = SimpleNamespace(accumulate_grad_batches=2)
    # Refused at every stage, so that a pre-fit validation cannot delay the error.
    for stage in ("fit", "validate"):
        with pytest.raises(ValueError, match="accumulate_grad_batches must be 1 .* got 2"):
            module.setup(stage)
    module.trainer = SimpleNamespace(accumulate_grad_batches=1)
    module.setup("validate")  # evaluation only: nothing to attach
    assert module.loss.attached.params == []
    module.setup("fit")
    assert module.loss.attached.params == list(module.encoder.parameters())


# --------------------------------------------------------------------------- optimizers


@pytest.mark.parametrize(
    "optimizer,match",
    [
        (partial(torch.optim.Adam, lr=1e-3), r"plain SGD.*got Adam with momentum=None"),
        (partial(torch.optim.AdamW, lr=1e-3), "got AdamW"),
        (partial(sgd, momentum=0.9), r"got SGD with momentum=0\.9"),
        (partial(sgd, momentum=0.9, nesterov=True), "momentum=0.9"),
    ],
)
def test_p_adam_needs_plain_sgd(optimizer, match) -> None:
    with pytest.raises(ValueError, match=match):
        make(scrapl_loss(use_p_saga=False), optimizer=optimizer).configure_optimizers()


def test_optimizers_that_are_allowed() -> None:
    # Weight decay is fine with P-Adam; without P-Adam any optimizer goes.
    opt = make(scrapl_loss(), optimizer=partial(sgd, weight_decay=0.01)).configure_optimizers()
    assert isinstance(opt, torch.optim.SGD) and opt.param_groups[0]["weight_decay"] == 0.01
    saga_only = scrapl_loss(use_p_adam=False, use_p_saga=True)
    module = make(saga_only, optimizer=partial(torch.optim.Adam, lr=1e-3))
    assert module.pathwise and isinstance(module.configure_optimizers(), torch.optim.Adam)
    module = make(AudioL1(), optimizer=partial(torch.optim.AdamW, lr=1e-3))
    assert isinstance(module.configure_optimizers(), torch.optim.AdamW)


def test_scheduler_is_stepped_per_step() -> None:
    module = make(AudioL1(), scheduler=partial(torch.optim.lr_scheduler.StepLR, step_size=3))
    out = module.configure_optimizers()
    assert isinstance(out["optimizer"], torch.optim.SGD)
    assert out["lr_scheduler"]["interval"] == "step"
    assert isinstance(out["lr_scheduler"]["scheduler"], torch.optim.lr_scheduler.StepLR)
    assert out["lr_scheduler"]["scheduler"].optimizer is out["optimizer"]


def test_optimizer_covers_the_encoder_only() -> None:
    module = make(AudioL1())
    opt = module.configure_optimizers()
    params = [p for g in opt.param_groups for p in g["params"]]
    assert [id(p) for p in params] == [id(p) for p in module.encoder.parameters()]


# --------------------------------------------------------------------------- constructor


class Fake:
    compares = "audio"


@pytest.mark.parametrize(
    "field,value,exc,match",
    [
        ("synth", lambda theta, seed: theta, TypeError, "synth must be a torch.nn.Module"),
        ("encoder", Fake(), TypeError, "encoder must be a torch.nn.Module, got Fake"),
        ("loss", torch.nn.functional.l1_loss, TypeError, "loss must be a torch.nn.Module"),
        ("optimizer", torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0), TypeError,
         "partial optimizer"),
        ("optimizer", None, TypeError, "partial optimizer.*NoneType"),
    ],
)  # fmt: skip
def test_constructor_type_errors(field, value, exc, match) -> None:
    kw = dict(synth=CountingSynth(), encoder=TinyEncoder(), loss=AudioL1(), optimizer=sgd)
    kw[field] = value
    with pytest.raises(exc, match=match):
        SoundMatching(**kw, theta_names=["a", "b"])


def test_constructor_rejects_unknown_compares() -> None:
    loss = AudioL1()
    loss.compares = "spectrum"
    with pytest.raises(ValueError, match="compares must be 'audio' or 'theta', got 'spectrum'"):
        make(loss)


# --------------------------------------------------------------------------- RNG state


def _draws() -> tuple:
    return (torch.rand(3), np.random.rand(3).tolist(), random.random())  # noqa: NPY002


def test_rng_state_round_trip_through_a_checkpoint() -> None:
    module = make(AudioL1())
    torch.manual_seed(5)
    np.random.seed(5)  # noqa: NPY002
    random.seed(5)
    ckpt: dict = {}
    module.on_save_checkpoint(ckpt)
    expected = _draws()
    # Checkpoints load with weights_only=True: plain types and tensors only.
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)
    _draws(), _draws()  # the RNGs move on (e.g. a sanity validation)
    module.on_load_checkpoint(loaded)
    assert not torch.equal(_draws()[0], expected[0])  # not applied before training starts
    module.on_train_start()
    got = _draws()
    assert torch.equal(got[0], expected[0]) and got[1:] == expected[1:]
    module.on_train_start()  # applied once only
    assert not torch.equal(_draws()[0], expected[0])


def test_old_checkpoint_without_rng_state() -> None:
    module = make(AudioL1())
    module.on_load_checkpoint({})
    torch.manual_seed(1)
    before = torch.get_rng_state()
    module.on_train_start()
    assert torch.equal(torch.get_rng_state(), before)


def test_encoder_autocast_bf16_returns_float32_close_to_float32() -> None:
    torch.manual_seed(0)
    fp32 = make()
    bf16 = make(encoder_autocast="bf16")
    bf16.encoder.load_state_dict(fp32.encoder.state_dict())
    audio = torch.randn(4, 1, N)
    ref, out = fp32(audio), bf16(audio)
    assert ref.dtype == out.dtype == torch.float32
    assert not torch.equal(ref, out)  # it did run in bfloat16 ...
    torch.testing.assert_close(out, ref, rtol=0, atol=0.02)  # ... to bfloat16's precision
    # The checkpoint keys are the encoder's own, whatever the options.
    assert make(compile_encoder=True).state_dict().keys() == fp32.state_dict().keys()


def test_encoder_option_errors() -> None:
    with pytest.raises(ValueError, match=r"encoder_autocast must be one of \(None, 'bf16'\)"):
        make(encoder_autocast="fp16")
    with pytest.raises(TypeError, match="compile_encoder"):
        make(compile_encoder="yes")
