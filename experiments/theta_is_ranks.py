"""The θ-IS warmup of a run on one or several processes (DDP ranks): one folder, one π.

Every rank uses **rank 0's** warmup folder and batches: rank 0 reaches its folder first
(writing its batches there if the folder is new), broadcasts the folder, and the other ranks
compute on the batches read from it, so ranks whose own renders or keys would differ (last
bits of the audio, a set-up that differs by mistake) still share one set of values. The
paths are split over the ranks by range; a rank that finishes its range waits **on the
folder** (polling for the other ranks' value files, with its own ``wait_timeout_s``), not in
a collective: path ranges of unequal cost can keep ranks apart for longer than a process
group's timeout (30 minutes by default). Rank 0 then merges and writes ``probs.pt``, every
rank loads it, and the ranks compare a digest of (folder, π) before training starts: a
mismatch stops every rank with an error instead of letting them draw different paths.

The collectives come from a :class:`Ranks` adapter: the Lightning strategy's in the
callback (:class:`experiments.callbacks.theta_is.ThetaIS`), torch.distributed's or Fabric's
elsewhere.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from experiments.theta_is import WarmupSet, adopt_folder_batches, chunk_range, run_theta_is
from scrapl.warmup.store import PROBS_NAME, list_missing, sha256

__all__ = ["Ranks", "SINGLE", "wait_for_values", "warmup_on_ranks"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ranks:
    """The collectives the warmup needs: ``broadcast(obj)`` returns rank 0's ``obj`` on
    every rank; ``all_true(flag)`` is True on every rank iff ``flag`` is True on all."""

    rank: int
    world_size: int
    broadcast: Callable[[Any], Any]
    all_true: Callable[[bool], bool]


SINGLE = Ranks(0, 1, lambda obj: obj, bool)


def wait_for_values(
    save_dir: Path, n_paths: int, n_theta: int, timeout_s: float, poll_s: float = 2.0
) -> None:
    """Return once every ``vals_{p}_{u}.pt`` of the warmup is in ``save_dir``.

    Raises:
        TimeoutError: some are still missing after ``timeout_s`` seconds (naming how many).
    """
    deadline = time.monotonic() + timeout_s
    while True:
        missing = list_missing(save_dir, n_paths, n_theta)
        if not missing:
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"θ-IS warmup: {len(missing)} of {n_paths * n_theta} (path, θ) values still "
                f"missing in {str(save_dir)!r} after {timeout_s:g} s (theta_is.wait_timeout_s); "
                "another rank may have failed: see its log"
            )
        time.sleep(min(poll_s, max(deadline - time.monotonic(), 0.0)))


def warmup_on_ranks(
    loss: Any,
    encoder: nn.Module,
    synth: nn.Module,
    warmup: WarmupSet,
    n_iter: int,
    ranks: Ranks = SINGLE,
    wait_timeout_s: float = 6 * 3600.0,
) -> tuple[Tensor, Path]:
    """The warmup over all paths on every rank (see the module docstring).

    Returns:
        ``(π as set on the loss, the folder)``, the same on every rank.

    Raises:
        RuntimeError: the ranks ended with different folders or π.
    """
    args = (loss, encoder, synth)
    if ranks.world_size == 1:
        probs = run_theta_is(*args, warmup, n_iter)
        if probs is None:  # cannot happen for the full range unless files vanish meanwhile
            raise RuntimeError(
                f"θ-IS warmup in {str(warmup.save_dir)!r} did not complete: some (path, θ) "
                "values are missing"
            )
        return probs, warmup.save_dir
    if ranks.rank == 0:
        warmup = adopt_folder_batches(warmup)  # the folder's batches exist before the broadcast
    save_dir = Path(ranks.broadcast(str(warmup.save_dir)))
    if save_dir != warmup.save_dir:
        log.warning(
            f"θ-IS warmup: this rank's set-up gives the folder {str(warmup.save_dir)!r}, rank "
            f"0's {str(save_dir)!r}: using rank 0's folder and batches"
        )
        warmup = replace(warmup, save_dir=save_dir)
    start, end = chunk_range(loss.n_paths, ranks.world_size, ranks.rank)
    log.info(f"θ-IS warmup of paths [{start}, {end}) on this rank")
    run_theta_is(*args, warmup, n_iter, start_path_idx=start, end_path_idx=end)
    wait_for_values(save_dir, loss.n_paths, loss.n_theta, wait_timeout_s)
    if ranks.rank == 0:
        run_theta_is(*args, warmup, n_iter)  # every value is on disk: merges, writes probs.pt
    ranks.broadcast(None)  # rank 0's probs.pt is written
    loss.load_probs(save_dir / PROBS_NAME)
    digest = sha256([str(save_dir), loss.probs])
    if not ranks.all_true(ranks.broadcast(digest) == digest):
        raise RuntimeError(
            f"θ-IS warmup: the ranks hold different path probabilities or folders (this rank: "
            f"{str(save_dir)!r}); they would draw different paths. Is cache_dir on a file "
            "system that every rank sees?"
        )
    return loss.probs, save_dir
