"""SCRAPL over any path transform: the distance along one random path per step.

Mitcheltree, Lostanlen, Benetos & Lagrange, "SCRAPL: Scattering Transform with Random Paths
for Machine Learning", ICLR 2026. At each call one path p of the transform is drawn from a
categorical distribution π (uniform, or importance-sampled after θ-IS warmup) and the loss is
the distance of the two signals along p only (:mod:`scrapl.losses.distance`). Since
``mean_p loss_p`` is the full loss (:class:`scrapl.losses.all_paths.AllPathsLoss`), the
uniform-π gradient is unbiased, at the cost of one path instead of all of them.

Attached parameters (:meth:`RandomPathLoss.attach_params`) have their gradients transformed
per path by P-Adam and P-SAGA (:mod:`scrapl.pathwise`); the downstream optimizer should then
be plain SGD (no momentum, optional weight decay). The transform-specific losses
(:class:`scrapl.SCRAPLLoss` for JTFS, the time and image scattering losses) only build their
transform; everything else lives here, once.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path as FilePath

import torch
from torch import Tensor, nn

from scrapl import warmup
from scrapl.losses.path_loss import PathLoss
from scrapl.pathwise.adam_saga import PathwiseGradientTransform
from scrapl.pathwise.attached import AttachedParams
from scrapl.pathwise.sampler import PathSampler
from scrapl.transforms.base import PathTransform
from scrapl.validation import (
    check_bool,
    check_float,
    check_float_dtype,
    check_int,
    check_positive,
    load_torch_file,
)

# The seed API's console output names this logger (INFO:scrapl.scrapl_loss:...).
log = logging.getLogger("scrapl.scrapl_loss")


class RandomPathLoss(PathLoss):
    """Stochastic single-path scattering loss with P-Adam, P-SAGA and importance sampling.

    Args:
        transform: the scattering transform (:class:`scrapl.transforms.base.PathTransform`).
        p, use_rho_log1p, log1p_eps, reduction, check_finite: the distance and the inputs
            (:class:`scrapl.losses.path_loss.PathLoss`).
        grad_mult: gradients of attached parameters are multiplied by this before P-Adam, so
            that squaring tiny scattering gradients does not underflow in float32 (must be
            > 1 when P-Adam is on and log1p is off).
        use_p_adam, use_p_saga: per-path Adam moments / SAGA variance reduction on the
            gradients of attached parameters.
        sample_all_paths_first: visit every path once, in random order, before sampling π.
        n_theta: number of synthesizer parameters θ (used by θ-IS warmup).
        min_prob_frac: every path keeps at least ``min_prob_frac / n_paths`` probability.
        adam_betas, adam_eps: P-Adam hyperparameters.
        seed: seed of the path sampler's own generator (None: a fresh random seed).
        pathwise_dtype: storage dtype of P-Adam/P-SAGA state (e.g. ``torch.bfloat16`` halves
            it); None keeps the gradients' dtype.
        pathwise_offload: keep P-Adam/P-SAGA state in CPU memory.
        probs_path: a ``probs.pt`` file (e.g. from an earlier θ-IS warmup) to set π from at
            construction; None starts uniform. Kept as :attr:`probs_path`.

    Shapes: ``x`` and ``x_target`` are ``(batch, channels, *signal_shape)`` (or without the
    channel axis); ``forward`` returns a scalar, or ``(batch,)`` with ``reduction="none"``.
    """

    def __init__(
        self,
        transform: PathTransform,
        p: float = 2,
        use_rho_log1p: bool = False,
        log1p_eps: float = 1e-3,
        grad_mult: float = 1e8,
        use_p_adam: bool = True,
        use_p_saga: bool = True,
        sample_all_paths_first: bool = False,
        n_theta: int = 1,
        min_prob_frac: float = 0.0,
        adam_betas: tuple[float, float] = (0.9, 0.999),
        adam_eps: float = 1e-8,
        seed: int | None = None,
        pathwise_dtype: torch.dtype | None = None,
        pathwise_offload: bool = False,
        probs_path: str | FilePath | None = None,
        reduction: str = "mean",
        check_finite: bool | None = None,
    ) -> None:
        self.check_arguments(
            n_theta,
            use_p_adam,
            use_rho_log1p,
            grad_mult,
            adam_betas,
            adam_eps,
            pathwise_dtype,
            pathwise_offload,
            probs_path,
        )
        super().__init__(transform, p, use_rho_log1p, log1p_eps, reduction, check_finite)
        self.n_theta = int(n_theta)
        self.sampler = PathSampler(self.n_paths, sample_all_paths_first, min_prob_frac, seed)
        self.pathwise = PathwiseGradientTransform(
            self.n_paths,
            use_p_adam=use_p_adam,
            use_p_saga=use_p_saga,
            grad_mult=float(grad_mult),
            beta1=float(adam_betas[0]),
            beta2=float(adam_betas[1]),
            eps=adam_eps,
            storage_dtype=pathwise_dtype,
            offload_to_cpu=pathwise_offload,
        )
        self.curr_path_idx: int | None = None
        self.path_counts: defaultdict[int, int] = defaultdict(int)
        self.step = 0
        self.attached = AttachedParams(self.pathwise)
        self.probs_path = None if probs_path is None else str(probs_path)
        if self.probs_path is not None:
            self.load_probs(self.probs_path)
        log.info(self._summary())

    @staticmethod
    def check_arguments(
        n_theta: object,
        use_p_adam: object,
        use_rho_log1p: object,
        grad_mult: object,
        adam_betas: object,
        adam_eps: object,
        pathwise_dtype: object,
        pathwise_offload: object,
        probs_path: object,
    ) -> None:
        """The SCRAPL arguments' checks, cheap: subclasses call them before designing their
        filters (which may take seconds)."""
        check_int("n_theta", n_theta, 1)
        check_bool("use_p_adam", use_p_adam)
        check_positive("grad_mult", grad_mult)
        if use_p_adam and use_rho_log1p is False and grad_mult <= 1:
            raise ValueError(
                "grad_mult must be > 1 when use_p_adam=True and use_rho_log1p=False "
                "(scattering gradients are tiny and their squares underflow in float32), "
                f"got {grad_mult}"
            )
        is_pair = isinstance(adam_betas, Sequence) and not isinstance(adam_betas, str)
        if not is_pair or len(adam_betas) != 2:
            raise TypeError(f"adam_betas must be a pair (beta1, beta2), got {adam_betas!r}")
        check_float("adam_betas[0]", adam_betas[0], 0.0, 1.0)
        check_float("adam_betas[1]", adam_betas[1], 0.0, 1.0)
        check_positive("adam_eps", adam_eps)
        check_float_dtype("pathwise_dtype", pathwise_dtype)
        check_bool("pathwise_offload", pathwise_offload)
        if probs_path is not None and not isinstance(probs_path, (str, FilePath)):
            raise TypeError(
                "probs_path must be None or the path of a probs.pt file (str or pathlib.Path), "
                f"got {type(probs_path).__name__}"
            )

    # -- properties of the seed API ------------------------------------------------------

    @property
    def unif_prob(self) -> float:
        """Uniform path probability ``1 / n_paths``."""
        return self.sampler.unif_prob

    @property
    def probs(self) -> Tensor:
        """Path sampling probabilities π, ``(n_paths,)`` float64, summing to 1."""
        return self.sampler.probs

    @property
    def use_p_adam(self) -> bool:
        return self.pathwise.use_p_adam

    @property
    def use_p_saga(self) -> bool:
        return self.pathwise.use_p_saga

    @property
    def grad_mult(self) -> float:
        return self.pathwise.grad_mult

    def _summary(self) -> str:
        s = self.sampler
        return (
            f"{type(self).__name__}:\n"
            f"{self.transform.describe()}\n"
            f"use_rho_log1p          = {self.use_rho_log1p}, eps = {self.log1p_eps}\n"
            f"grad_mult              = {self.grad_mult}\n"
            f"use_p_adam             = {self.use_p_adam}\n"
            f"use_p_saga             = {self.use_p_saga}\n"
            f"sample_all_paths_first = {s.sample_all_paths_first}\n"
            f"n_theta                = {self.n_theta}\n"
            f"min_prob_frac          = {s.min_prob_frac}\n"
            f"number of SCRAPL paths = {self.n_paths}\n"
            f"unif_prob              = {self.unif_prob:.8f}\n"
        )

    # -- loss ------------------------------------------------------------------------------

    def forward(
        self, x: Tensor, x_target: Tensor, path_idx: int | None = None, seed: int | None = None
    ) -> Tensor:
        """SCRAPL loss along one path (reduced over the batch as ``reduction`` says).

        Args:
            x: reconstruction, ``(batch, channels, *signal_shape)``.
            x_target: target, same shape.
            path_idx: evaluate this path instead of sampling one.
            seed: sample the path from a generator seeded with ``seed`` (same seed, same path;
                the sampler's own generator is left untouched).
        """
        x, x_target, batch = self.prepare(x, x_target)
        if path_idx is None:
            path_idx = self.sampler.sample(seed=seed)
        else:
            path_idx = self.transform.check_path_idx(path_idx)
        self.curr_path_idx = path_idx
        if self.training:
            self.path_counts[path_idx] += 1
            self.step += 1
            self.attached.start_step(path_idx, self.step)
        out = self.reduce(self.path_distances(x, x_target, path_idx), batch)
        self.attached.watch(out, (path_idx, self.step) if self.training else None)
        return out

    # -- P-Adam / P-SAGA ------------------------------------------------------------------

    def attach_params(self, params: Iterable[nn.Parameter], use_hooks: bool = True) -> None:
        """Transform the gradients of ``params`` by P-Adam / P-SAGA for the sampled path.

        With ``use_hooks`` (the default), the transform runs inside ``backward`` through
        gradient hooks. A trainer that reduces gradients across devices should pass
        ``use_hooks=False`` and call :meth:`transform_grads` after the reduction instead.
        Both modes refuse gradient accumulation (:mod:`scrapl.pathwise.attached`). Attaching
        an empty list detaches. Attaching resets P-Adam/P-SAGA state.
        """
        params = list(params)
        for i, param in enumerate(params):
            if not isinstance(param, Tensor) or not param.requires_grad:
                raise TypeError(
                    f"params[{i}] must be a tensor that requires grad, got {type(param).__name__}"
                )
        check_bool("use_hooks", use_hooks)
        n_old = len(self.attached.params)
        self.attached.attach(params, use_hooks)
        if not params:
            log.info(f"Detached {n_old} parameter tensors")
            return
        n_weights = sum(p.numel() for p in params)
        log.info(f"Attached {len(params)} parameter tensors ({n_weights} weights)")

    def transform_grads(self) -> None:
        """Apply P-Adam / P-SAGA in place to the ``.grad`` of the attached parameters.

        For trainers that attach with ``use_hooks=False``: call once per step, after the
        gradients are complete (e.g. all-reduced across devices) and before the optimizer.
        Only the parameters that received a gradient from this step's backward are changed.
        """
        self.attached.transform()

    def hooks_suspended(self) -> AbstractContextManager[None]:
        """Context in which gradients reach the attached parameters untransformed (warmup)."""
        return self.attached.suspend()

    # -- probabilities and state -------------------------------------------------------------

    def load_probs(self, path: str | FilePath) -> None:
        """Set π from a ``probs.pt`` file holding a ``(n_paths,)`` tensor."""
        probs = load_torch_file(path, "path probabilities")
        if not isinstance(probs, Tensor) or probs.shape != (self.n_paths,):
            raise ValueError(
                f"{str(path)!r} must hold a tensor of shape ({self.n_paths},) (one probability "
                f"per path), got {getattr(probs, 'shape', type(probs).__name__)}"
            )
        self.sampler.set_probs(probs)

    def clear(self) -> None:
        """Forget all state: path counts, current path, step, π, sampler and P-Adam/P-SAGA."""
        self.path_counts = defaultdict(int)
        self.curr_path_idx = None
        self.step = 0
        self.sampler.clear()
        self.pathwise.clear()
        self.attached.reset()

    def get_extra_state(self) -> dict:
        return {
            "n_paths": self.n_paths,
            "config": repr(self.config),
            "step": self.step,
            "curr_path_idx": self.curr_path_idx,
            "path_counts": dict(self.path_counts),
            "sampler": self.sampler.state_dict(),
            "pathwise": self.pathwise.state_dict(),
        }

    def set_extra_state(self, state: dict) -> None:
        name = type(self).__name__
        if not isinstance(state, dict) or state.get("n_paths") != self.n_paths:
            raise ValueError(
                f"state_dict is not from a {name} with {self.n_paths} paths "
                f"(got n_paths={state.get('n_paths') if isinstance(state, dict) else None})"
            )
        if state["config"] != repr(self.config):
            raise ValueError(
                f"state_dict is from a {name} with {state['config']}, not {self.config!r}"
            )
        # P-Adam/P-SAGA first: it refuses mismatched hyperparameters before touching anything.
        self.pathwise.load_state_dict(state["pathwise"])
        if self.attached.params:  # the state lives where the attached parameters live
            self.pathwise.to_device(self.attached.params[0].device)
        self.sampler.load_state_dict(state["sampler"])
        self.step = int(state["step"])
        self.curr_path_idx = state["curr_path_idx"]
        self.path_counts = defaultdict(int, state["path_counts"])
        self.attached.reset()

    # -- θ-IS warmup (scrapl.warmup) ---------------------------------------------------------

    def check_is_deterministic(
        self,
        theta_fn: Callable[..., Tensor],
        theta_fn_kwargs: dict,
        synth_fn: Callable[..., Tensor],
        synth_fn_kwargs: dict | None = None,
    ) -> bool:
        """True if encoder and synth give identical outputs twice (warns naming the culprit)."""
        return warmup.check_is_deterministic(theta_fn, theta_fn_kwargs, synth_fn, synth_fn_kwargs)

    def warmup_lc_hvp(
        self,
        theta_fn: Callable[..., Tensor],
        synth_fn: Callable[..., Tensor],
        theta_fn_kwargs: list[dict],
        params: Iterable[Tensor],
        synth_fn_kwargs: list[dict] | None = None,
        start_path_idx: int = 0,
        end_path_idx: int | None = None,
        theta_idxs: Iterable[int] | None = None,
        save_dir: str | FilePath = "scrapl_warmup",
        n_iter: int = 20,
        target_key: str = "x",
        progress: str = "path",
    ) -> Tensor | None:
        """θ-IS warmup: per-(path, θ) curvature, then π; see :func:`scrapl.warmup.warmup_lc_hvp`."""
        return warmup.warmup_lc_hvp(
            self,
            theta_fn,
            synth_fn,
            theta_fn_kwargs,
            params,
            synth_fn_kwargs=synth_fn_kwargs,
            start_path_idx=start_path_idx,
            end_path_idx=end_path_idx,
            theta_idxs=theta_idxs,
            save_dir=save_dir,
            n_iter=n_iter,
            target_key=target_key,
            progress=progress,
        )

    def load_probs_from_warmup_dir(self, save_dir: str | FilePath) -> Tensor:
        """Set π from a warmup directory; see :func:`scrapl.warmup.load_probs_from_warmup_dir`."""
        return warmup.load_probs_from_warmup_dir(self, save_dir)
