"""Mixed precision (bf16-mixed, 16-mixed), TF32 settings and the DDP presets."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch
from conftest import FAST_RUN, load_ckpt, short_warmup
from hydra.utils import instantiate
from lightning.pytorch.plugins.precision import MixedPrecision

import experiments.module as module_mod
from experiments.matmul_precision import CUDAAccelerator, set_float32_matmul_precision


@pytest.fixture
def compare_calls(monkeypatch):
    """Every call of the module's comparison (reconstruction + loss): autocast state and
    dtypes of θ̂ and of the target."""
    calls = []
    real = module_mod.SoundMatching._compare

    def recording(self, batch, stage, batch_idx, x, theta_hat, theta):
        calls.append((torch.is_autocast_enabled("cpu"), theta_hat.dtype, x.dtype))
        return real(self, batch, stage, batch_idx, x, theta_hat, theta)

    monkeypatch.setattr(module_mod.SoundMatching, "_compare", recording)
    return calls


# 16-mixed on a CPU is bf16-mixed (Lightning says so and switches): its scaler is tested below.
@pytest.mark.parametrize("loss", ["scrapl", "jtfs"])
def test_bf16_mixed_trains_with_synth_and_loss_in_float32(run_train, tmp_path, compare_calls, loss):
    overrides = [*FAST_RUN, f"loss={loss}", "trainer.precision=bf16-mixed", "callbacks=none"]
    if loss == "scrapl":
        overrides += short_warmup(tmp_path / "cache")
    metrics, _ = run_train(overrides, tmp_path / "run")
    assert compare_calls and all(c == (False, torch.float32, torch.float32) for c in compare_calls)
    assert torch.isfinite(torch.tensor(metrics["end/val/theta_l1"]))


def test_overflow_steps_leave_pathwise_state_and_weights_alone(compose_train, tmp_path):
    """16-mixed with a loss scale that overflows float16: the GradScaler skips every step,
    and P-Adam/P-SAGA see none of them (no path state allocated, no non-finite value)."""
    cfg = compose_train(
        [*FAST_RUN, "loss=scrapl", "callbacks=none", "++callbacks.theta_is=null",
         f"paths.output_dir='{tmp_path}'"]
    )  # fmt: skip
    pl.seed_everything(0)
    datamodule, module = instantiate(cfg.data), instantiate(cfg.module)
    before = {k: v.clone() for k, v in module.encoder.state_dict().items()}
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**60)
    trainer = pl.Trainer(
        accelerator="cpu", devices=1, max_steps=2, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
        plugins=[MixedPrecision("16-mixed", "cpu", scaler=scaler)],
    )  # fmt: skip
    trainer.fit(module, datamodule=datamodule)
    assert scaler.get_scale() == 2.0**58  # halved at each of the 2 skipped steps
    # No path was ever updated: no path's buffers, or none marked visited.
    buffers = module.loss.pathwise.state_dict()["buffers"]
    assert buffers is None or not bool(buffers["visited"].any())
    for k, v in module.encoder.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_float32_matmul_precision_is_applied():
    saved = torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32
    try:
        set_float32_matmul_precision("high")
        assert torch.get_float32_matmul_precision() == "high" and torch.backends.cudnn.allow_tf32
        set_float32_matmul_precision("highest")
        assert torch.get_float32_matmul_precision() == "highest"
        assert not torch.backends.cudnn.allow_tf32
        with pytest.raises(ValueError, match="float32_matmul_precision must be one of"):
            set_float32_matmul_precision("tf32")
        with pytest.raises(ValueError, match="float32_matmul_precision must be one of"):
            CUDAAccelerator("fast")
    finally:
        torch.set_float32_matmul_precision(saved[0])
        torch.backends.cudnn.allow_tf32 = saved[1]


@pytest.mark.parametrize("trainer", ["gpu", "ddp"])
def test_gpu_trainer_configs_choose_tf32(compose_train, trainer):
    accelerator = instantiate(compose_train([f"trainer={trainer}"]).trainer.accelerator)
    assert isinstance(accelerator, CUDAAccelerator)
    assert accelerator.float32_matmul_precision == "highest"


@pytest.mark.parametrize("trainer", ["ddp", "ddp_cpu"])
def test_ddp_presets(compose_train, trainer):
    cfg = compose_train([f"trainer={trainer}"])
    assert cfg.trainer.strategy.broadcast_buffers is False
    assert cfg.trainer.sync_batchnorm is False


@pytest.mark.parametrize("experiment", ["granular", "chirplet", "tr808"])
def test_no_batchnorm_to_synchronise(compose_train, experiment):
    module = instantiate(compose_train([f"experiment={experiment}", "preset=tiny"]).module)
    norms = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert norms == []


def test_checkpoint_loads_under_bf16(run_train, tmp_path):
    # A bf16-mixed run's checkpoint holds float32 weights (autocast never casts them).
    run_train([*FAST_RUN, "loss=mss_linear", "trainer.precision=bf16-mixed",
               "callbacks=last_checkpoint"], tmp_path / "run")  # fmt: skip
    ckpt = load_ckpt(tmp_path / "run" / "checkpoints" / "last.ckpt")
    dtypes = {v.dtype for k, v in ckpt["state_dict"].items() if k.startswith("encoder.")}
    assert dtypes == {torch.float32}
