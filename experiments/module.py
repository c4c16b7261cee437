"""Sound matching as a LightningModule (Mitcheltree et al., ICLR 2026, §5).

One step: the target ``x = synth(θ, seed)`` is rendered from a grid point, the encoder
predicts ``θ̂`` from ``x``, the synth renders ``x̂ = synth(θ̂, seed_hat)`` with *another*
seed, redrawn at every step (misaligned grains or time shifts, "meso";
:mod:`experiments.data.recon_seeds`), and the loss compares ``x̂`` with ``x``. A loss whose
``compares`` attribute is ``"theta"`` (the supervised P-loss) compares ``θ̂`` with ``θ``
instead. Metric: θ L1 in per mille, per dimension and averaged.

Recorded targets (the TR-808 experiment): a batch that carries its audio ``x`` is matched as
it is (nothing is rendered for the target), and has θ metrics only if it also carries
``theta``. A synth whose ``takes_seed`` is False (the deterministic TR-808 synth) renders
``x̂ = synth(θ̂)`` (:func:`experiments.synth_protocol.render`). With a ``pad`` (the paper: 2048),
the loss compares ``pad_shift(x̂, shift, pad)`` with ``pad_shift(x, 0, pad)``
(:func:`experiments.training_shift.pad_shift`): ``shift`` is the batch's per-item ``"shift"``
in training ("meso"; 0 for "micro") and 0 in validation and test. The test step keeps the
compared audio with the pad removed in :attr:`SoundMatching.test_audio`, for the test metrics
(:class:`experiments.callbacks.test_metrics.TestMetrics`).

``grad_mult`` scales the encoder's gradients before the optimizer step (the paper's set-up: the full
JTFS and plain SCRAPL gradients are multiplied by 1e8 before AdamW, whose ε = 1e-8 would
otherwise swamp them); a SCRAPL loss with P-Adam/P-SAGA has its own ``grad_mult``.

``encoder_autocast="bf16"`` runs the encoder (CQT and CNN) under bfloat16 autocast and hands
θ̂ back in float32, so that the synth, the loss (the JTFS) and the gradient transforms stay in
float32; ``compile_encoder`` wraps the encoder's forward in ``torch.compile`` (the weights and
the checkpoint keys are the encoder's own). Both are opt-in; README gives their measured
effect.

Losses with path-wise gradient transforms (SCRAPL: P-Adam / P-SAGA) are recognised by their
``attach_params`` / ``transform_grads`` methods, never by class: the encoder's weights are
attached without hooks and transformed in ``on_before_optimizer_step``, after the gradients
are complete (and all-reduced under DDP), so one code path serves one and many devices.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor, nn

from experiments.checkpoint_policy import STORAGE_DTYPES, has_omitted_pathwise, store_pathwise_as
from experiments.data.recon_seeds import reconstruction_seeds
from experiments.pathwise_checks import check_accumulation, check_plain_sgd
from experiments.precision import as_full_precision, full_precision, scaler_found_inf
from experiments.rng_state import gather_rng_states, restore_rng_state
from experiments.synth_protocol import render, synth_takes_seed
from experiments.training_shift import pad_shift
from scrapl.validation import check_bool, check_int, check_positive

__all__ = ["ENCODER_AUTOCAST", "SCHEDULER_INTERVALS", "SoundMatching", "theta_l1_permille"]

log = logging.getLogger(__name__)

Batch = dict[str, Any]

SCHEDULER_INTERVALS = ("step", "epoch")
ENCODER_AUTOCAST = (None, "bf16")


def theta_l1_permille(theta_hat: Tensor, theta: Tensor) -> Tensor:
    """Mean absolute error per θ dimension in per mille of the unit range, ``(n_theta,)``."""
    return 1000.0 * (theta_hat.detach() - theta).abs().mean(dim=0)


class SoundMatching(pl.LightningModule):
    """Encoder trained through a synth to match sounds.

    Args:
        synth: ``synth(θ (B, U) in [0, 1], seed) -> audio (B, 1, N)``, seed an int or a (B,)
            tensor of per-example seeds; or ``synth(θ)`` when ``synth.takes_seed`` is False.
        encoder: ``encoder(audio (B, 1, N)) -> θ̂ (B, U)`` in [0, 1].
        loss: ``loss(x̂, x) -> scalar`` (or ``loss(θ̂, θ)`` when ``loss.compares == "theta"``).
        optimizer: a partial optimizer, ``optimizer(params) -> torch.optim.Optimizer``.
        theta_names: names of the U synth parameters (metric names).
        scheduler: optional partial scheduler, ``scheduler(optimizer) -> LRScheduler``,
            stepped every ``scheduler_interval``.
        n_val_examples: examples of the first validation batch kept in :attr:`val_examples`
            for the audio callbacks.
        seed: the run's seed, from which the reconstruction seeds are derived.
        grad_mult: factor applied to the encoder's gradients before the optimizer step
            (> 0; 1 leaves them alone). Not allowed with P-Adam/P-SAGA losses, whose
            ``grad_mult`` acts before their per-path normalisation.
        pad: None (the loss compares ``x̂`` with ``x``), or the constant delay of the
            training shift in samples (>= 0): see the module docstring.
        scheduler_interval: ``"step"`` (every training step) or ``"epoch"`` (the paper's
            TR-808 LinearLR).
        encoder_autocast: None (float32) or ``"bf16"``: bfloat16 autocast for the encoder only.
        compile_encoder: run the encoder through ``torch.compile``.
        checkpoint_pathwise_dtype: None, or ``"bfloat16"`` / ``"float16"``: the P-Adam/P-SAGA
            state stored in that precision in checkpoints (:mod:`experiments.checkpoint_policy`).
    """

    def __init__(
        self,
        synth: nn.Module,
        encoder: nn.Module,
        loss: nn.Module,
        optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer],
        theta_names: Sequence[str],
        scheduler: Callable[[torch.optim.Optimizer], Any] | None = None,
        n_val_examples: int = 4,
        seed: int = 0,
        grad_mult: float = 1.0,
        pad: int | None = None,
        scheduler_interval: str = "step",
        encoder_autocast: str | None = None,
        compile_encoder: bool = False,
        checkpoint_pathwise_dtype: str | None = None,
    ) -> None:
        super().__init__()
        for name, obj in (("synth", synth), ("encoder", encoder), ("loss", loss)):
            if not isinstance(obj, nn.Module):
                raise TypeError(f"{name} must be a torch.nn.Module, got {type(obj).__name__}")
        if not callable(optimizer):
            raise TypeError(
                "optimizer must be a partial optimizer (callable on the parameters), "
                f"got {type(optimizer).__name__}"
            )
        self.synth = synth
        self.encoder = encoder
        self.loss = loss
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.theta_names = [str(n) for n in theta_names]
        self.n_val_examples = int(n_val_examples)
        self.compares = getattr(loss, "compares", "audio")
        if self.compares not in ("audio", "theta"):
            raise ValueError(f"loss.compares must be 'audio' or 'theta', got {self.compares!r}")
        # SCRAPL-like losses sample a path per call; evaluation passes a seed so that it
        # leaves the training sampler alone.
        self.samples_paths = callable(getattr(loss, "transform_grads", None))
        self.pathwise = self.samples_paths and bool(
            getattr(loss, "use_p_adam", False) or getattr(loss, "use_p_saga", False)
        )
        self.seed = check_int("seed", seed, 0)
        self.grad_mult = check_positive("grad_mult", grad_mult)
        if self.pathwise and self.grad_mult != 1.0:
            raise ValueError(
                f"grad_mult must be 1 with {type(loss).__name__} and P-Adam/P-SAGA (got "
                f"{grad_mult}): set the loss's own grad_mult, which acts before them"
            )
        self.synth_takes_seed = synth_takes_seed(synth)
        self.pad = None if pad is None else check_int("pad", pad, 0)
        if scheduler_interval not in SCHEDULER_INTERVALS:
            raise ValueError(
                f"scheduler_interval must be one of {SCHEDULER_INTERVALS}, got "
                f"{scheduler_interval!r}"
            )
        self.scheduler_interval = scheduler_interval
        if encoder_autocast not in ENCODER_AUTOCAST:
            raise ValueError(
                f"encoder_autocast must be one of {ENCODER_AUTOCAST}, got {encoder_autocast!r}"
            )
        self.encoder_autocast = encoder_autocast
        self.compile_encoder = check_bool("compile_encoder", compile_encoder)
        if checkpoint_pathwise_dtype not in (None, *STORAGE_DTYPES):
            raise ValueError(
                f"checkpoint_pathwise_dtype must be one of {sorted(STORAGE_DTYPES)} or None, "
                f"got {checkpoint_pathwise_dtype!r}"
            )
        self.checkpoint_pathwise_dtype = checkpoint_pathwise_dtype
        # Not a submodule: the compiled wrapper would add a second copy of the weights' keys.
        self.__dict__["_encode"] = None
        self.val_examples: dict[str, Tensor] | None = None
        # The last test batch's target and reconstruction (B, 1, N - pad), as the loss compared
        # them with the pad removed: what the test-metric callbacks read (they set
        # keep_test_audio, so that a loss comparing θ renders x̂ too).
        self.test_audio: dict[str, Tensor] | None = None
        self.keep_test_audio = False
        self._restored_rng: dict[str, Any] | None = None

    # -- set-up checks -----------------------------------------------------------------------

    def setup(self, stage: str) -> None:
        if not self.pathwise:
            return
        # Checked at every stage, so that a bad set-up fails before a pre-fit validation.
        check_accumulation(self.trainer.accumulate_grad_batches, type(self.loss).__name__)
        if self.loss.use_p_adam:
            check_plain_sgd(self.optimizer_factory(self.encoder.parameters()))
        if stage == "fit":
            # Attached before the checkpoint is restored, so its P-Adam/P-SAGA state survives.
            self.loss.attach_params(
                [p for p in self.encoder.parameters() if p.requires_grad], use_hooks=False
            )

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(self.encoder.parameters())
        if self.pathwise and self.loss.use_p_adam:
            check_plain_sgd(optimizer)
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        lr_scheduler = {"scheduler": scheduler, "interval": self.scheduler_interval}
        return {"optimizer": optimizer, "lr_scheduler": lr_scheduler}

    # -- steps -----------------------------------------------------------------------------

    def forward(self, audio: Tensor) -> Tensor:
        """θ̂ ``(B, U)`` of audio ``(B, 1, N)`` (float32 also under ``encoder_autocast``)."""
        if self._encode is None:
            compiled = torch.compile(self.encoder) if self.compile_encoder else self.encoder
            self.__dict__["_encode"] = compiled
        if self.encoder_autocast is None:
            return self._encode(audio)
        with torch.autocast(device_type=audio.device.type, dtype=torch.bfloat16):
            theta_hat = self._encode(audio)
        return theta_hat.float()

    def target(self, batch: Batch) -> Tensor:
        """The batch's target audio ``(B, 1, N)``: its recording ``"x"`` if it has one, else
        ``synth(θ, seed)`` rendered without gradient."""
        if "x" in batch:
            return batch["x"]
        with torch.no_grad():
            return render(self.synth, batch["theta"], batch.get("seed"))

    def reconstruct(self, theta_hat: Tensor, batch: Batch, stage: str) -> Tensor:
        """``x̂ = synth(θ̂, seed_hat)`` with the step's reconstruction seeds, or ``synth(θ̂)``."""
        if not self.synth_takes_seed:
            return self.synth(theta_hat)
        if "seed" not in batch:
            raise ValueError(
                f"{type(self.synth).__name__} takes a seed, so the batch needs the target "
                f"seeds ('seed') to derive the reconstruction seeds from; its keys are "
                f"{sorted(batch)}"
            )
        seed_hat = reconstruction_seeds(self.seed, stage, self.current_epoch, batch["seed"])
        return self.synth(theta_hat, seed_hat)

    def aligned(self, x_hat: Tensor, x: Tensor, batch: Batch, stage: str) -> tuple[Tensor, Tensor]:
        """``(x̂, x)`` as the loss compares them: unchanged without a pad, else delayed by the
        pad, ``x̂`` also by the batch's ``"shift"`` in training (see the module docstring)."""
        if self.pad is None:
            return x_hat, x
        shift = batch["shift"] if stage == "train" else 0
        return pad_shift(x_hat, shift, self.pad), pad_shift(x, 0, self.pad)

    def _step(self, batch: Batch, stage: str, batch_idx: int) -> tuple[Tensor, tuple | None]:
        theta = batch.get("theta")
        device_type = self.device.type
        with full_precision(device_type):  # the synth in full precision (experiments.precision)
            x = self.target(batch)
        theta_hat = self(x)  # under the trainer's autocast, if any
        with full_precision(device_type):
            return self._compare(batch, stage, batch_idx, x, as_full_precision(theta_hat), theta)

    def _compare(
        self, batch: Batch, stage: str, batch_idx: int, x: Tensor, theta_hat: Tensor,
        theta: Tensor | None,
    ) -> tuple[Tensor, tuple | None]:  # fmt: skip
        need_audio = (
            self.compares == "audio"
            or (stage == "val" and batch_idx == 0)
            or (stage == "test" and self.keep_test_audio)
        )
        pair = None
        if need_audio:
            pair = self.aligned(self.reconstruct(theta_hat, batch, stage), x, batch, stage)
        if self.compares == "theta":
            if theta is None:
                raise ValueError(
                    f"{type(self.loss).__name__} compares θ, but the batch has no 'theta' "
                    "(recorded sounds): choose a loss that compares audio"
                )
            loss = self.loss(theta_hat, theta)
        elif self.samples_paths and stage != "train":
            # A fixed path per batch: evaluation must not advance the training path sampler.
            loss = self.loss(*pair, seed=batch_idx)
        else:
            loss = self.loss(*pair)
        if stage == "val" and batch_idx == 0:
            n = self.n_val_examples
            self.val_examples = {
                "x": pair[1][:n].detach().float().cpu(),
                "x_hat": pair[0][:n].detach().float().cpu(),
                "theta_hat": theta_hat[:n].detach().float().cpu(),
            }
            if theta is not None:
                self.val_examples["theta"] = theta[:n].detach().float().cpu()
            if "name" in batch:  # recordings: their file names title the spectrograms
                self.val_examples["names"] = [str(v) for v in batch["name"][:n]]
        self._log_metrics(stage, loss, theta_hat, theta)
        return loss, pair

    def _log_metrics(
        self, stage: str, loss: Tensor, theta_hat: Tensor, theta: Tensor | None
    ) -> None:
        on_step = stage == "train"
        # Epoch metrics are averaged over the ranks under DDP (each validates its shard).
        kw = {
            "on_step": on_step,
            "on_epoch": not on_step,
            "batch_size": theta_hat.shape[0],
            "sync_dist": not on_step,
        }
        self.log(f"{stage}/loss", loss.detach(), prog_bar=True, **kw)
        if theta is not None:
            per_dim = theta_l1_permille(theta_hat, theta)
            self.log(f"{stage}/theta_l1", per_dim.mean(), prog_bar=True, **kw)
            for name, value in zip(self.theta_names, per_dim, strict=True):
                self.log(f"{stage}/theta_l1_{name}", value, **kw)
        if stage == "train" and self.samples_paths:
            self.log("train/path_idx", float(self.loss.curr_path_idx), **kw)

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        return self._step(batch, "train", batch_idx)[0]

    def validation_step(self, batch: Batch, batch_idx: int) -> Tensor:
        return self._step(batch, "val", batch_idx)[0]

    def test_step(self, batch: Batch, batch_idx: int) -> Tensor:
        """The loss; :attr:`test_audio` keeps the batch's compared audio, pad removed (also
        rendered for a loss that compares θ when :attr:`keep_test_audio` is set)."""
        loss, pair = self._step(batch, "test", batch_idx)
        self.test_audio = None
        if pair is not None:
            start = self.pad or 0
            x_hat, x = (a[..., start:].detach() for a in pair)
            self.test_audio = {"x": x, "x_hat": x_hat}
        return loss

    def test_examples(self, batch: Batch) -> dict[str, Tensor]:
        """What the test step compares for ``batch``, without a loss: ``x`` and ``x_hat``
        ``(B, 1, N - pad)`` (pad removed, as in :attr:`test_audio`) and ``theta_hat`` ``(B, U)``.

        The reconstruction seeds depend on each example alone (not on its batch), so an
        example gives the same reconstruction here as in the test loop (what
        :class:`experiments.callbacks.test_audio.TestAudio` keeps)."""
        with full_precision(self.device.type):
            x = self.target(batch)
        theta_hat = self(x)
        with full_precision(self.device.type):
            theta_hat = as_full_precision(theta_hat)
            x_hat = self.reconstruct(theta_hat, batch, "test")
            x_hat, x = self.aligned(x_hat, x, batch, "test")
        start = self.pad or 0
        return {"x": x[..., start:], "x_hat": x_hat[..., start:], "theta_hat": theta_hat}

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        if self.pathwise:
            # 16-mixed: a step the GradScaler skips (overflow) leaves P-Adam/P-SAGA alone too.
            if not scaler_found_inf(self._trainer, optimizer):
                self.loss.transform_grads()
        elif self.grad_mult != 1.0:
            for p in self.encoder.parameters():
                if p.grad is not None:
                    p.grad.mul_(self.grad_mult)

    # -- checkpoints: RNGs of every rank, the path-wise state (experiments.checkpoint_policy) --

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["rng_state"] = gather_rng_states(self.device)  # a collective: every rank
        if not has_omitted_pathwise(checkpoint):
            store_pathwise_as(checkpoint, self.checkpoint_pathwise_dtype)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if has_omitted_pathwise(checkpoint):
            if self._trainer is not None and self.trainer.training:
                raise ValueError(
                    "this checkpoint has no P-Adam/P-SAGA state (a best-k checkpoint, kept for "
                    "evaluation): resume training from checkpoints/last.ckpt"
                )
            # Evaluation: the loss keeps an empty path-wise state (it does not train).
            self.loss.pathwise.clear()
            extra = checkpoint["state_dict"]["loss._extra_state"]
            extra["pathwise"] = self.loss.pathwise.state_dict()
        # Applied when training starts, after the sanity validation that the uninterrupted
        # run did not do at this point.
        self._restored_rng = checkpoint.get("rng_state")
        # Lightning loads the weights before its precision plugin converts the module:
        # under trainer.precision=64-true the float64 weights would be copied into float32
        # parameters (rounded) and only then converted, so the resumed run would not
        # continue the one it resumes. The plugin's conversion, done first.
        if self._trainer is not None and self.trainer.precision == "64-true":
            self.double()

    def on_train_start(self) -> None:
        if self._restored_rng is not None:
            restore_rng_state(self._restored_rng, self.global_rank, self.device)
            self._restored_rng = None
