"""Lightning's ModelCheckpoint for a run folder: whole epochs only, best-k kept across resumes.

Two changes to :class:`lightning.pytorch.callbacks.ModelCheckpoint` (same arguments):

* **No save at the end of an epoch that stopped before its last batch** (``trainer.max_steps``,
  ``trainer.max_time``): Lightning's file would mark the epoch done, so a run resumed from it
  would skip the epoch's remaining batches, and a best-k file would pair these weights with
  the score of the previous validation. :class:`~experiments.callbacks.step_checkpoint.
  StepCheckpoint` writes ``last.ckpt`` at such a stop, mid-epoch, which continues the run
  exactly.
* **Best-k tracking carried into a resumed run's folder.** A run resumed with ``ckpt_path=``
  writes into a new folder; Lightning then forgets the scores of the checkpoints kept so far
  (it keeps only ``best_model_path``, in the old folder), so the first validation of the
  resumed run becomes the best whatever its score, and the run tests another checkpoint than
  the uninterrupted run would. Here the files tracked in the checkpoint (``best_k_models``)
  are linked (or copied) into this run's ``dirpath`` and tracked there with their scores:
  later epochs must beat them, and the test uses the checkpoint the uninterrupted run uses.
  A tracked file that no longer exists is dropped from the tracking, with a warning (unless
  this folder has it: a run folder moved since). Without a monitor (``last.ckpt``) nothing of
  the other folder is tracked.

The callback state keeps ModelCheckpoint's key, so checkpoints written by either class
restore into the other.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_only

from experiments.audio_io import atomic_output
from experiments.callbacks.step_checkpoint import epoch_complete
from experiments.checkpoint_policy import pathwise_state_omitted

__all__ = ["RunModelCheckpoint"]

log = logging.getLogger(__name__)


def _link_or_copy(src: Path, dst: Path) -> None:
    """``dst`` with ``src``'s bytes: a hard link where the file system allows (checkpoints
    are replaced by renames, never rewritten, so the link keeps this content), else a copy
    written atomically."""
    if dst.exists():
        if dst.samefile(src):
            return
        raise FileExistsError(
            f"cannot carry the tracked checkpoint {str(src)!r} over: {str(dst)!r} exists"
        )
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        with atomic_output(dst) as tmp:
            shutil.copyfile(src, tmp)


class RunModelCheckpoint(ModelCheckpoint):
    """:class:`ModelCheckpoint` (same arguments), see the module docstring; and
    ``keep_pathwise_state``: False writes the files without the SCRAPL loss's P-Adam/P-SAGA
    state (best-k checkpoints, for evaluation: :mod:`experiments.checkpoint_policy`)."""

    def __init__(
        self,
        *args: Any,
        keep_pathwise_state: bool = True,
        save_at_last_epoch: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        for name, value in (
            ("keep_pathwise_state", keep_pathwise_state),
            ("save_at_last_epoch", save_at_last_epoch),
        ):
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be a bool, got {value!r}")
        self.keep_pathwise_state = keep_pathwise_state
        self.save_at_last_epoch = save_at_last_epoch

    def _at_last_epoch(self, trainer: pl.Trainer, hook: Any) -> None:
        """``hook()``, saving also at the fit's last epoch when ``save_at_last_epoch``
        (whatever ``every_n_epochs``, 0 included)."""
        max_epochs = trainer.max_epochs
        last = max_epochs is not None and max_epochs > 0 and trainer.current_epoch + 1 >= max_epochs
        if not (self.save_at_last_epoch and last):
            hook()
            return
        every, self._every_n_epochs = self._every_n_epochs, 1
        try:
            hook()
        finally:
            self._every_n_epochs = every

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._at_last_epoch(
            trainer, lambda: super(RunModelCheckpoint, self).on_validation_end(trainer, pl_module)
        )

    def _save_checkpoint(self, trainer: pl.Trainer, filepath: str) -> None:
        if self.keep_pathwise_state:
            super()._save_checkpoint(trainer, filepath)
            return
        with pathwise_state_omitted(getattr(trainer.lightning_module, "loss", None)):
            super()._save_checkpoint(trainer, filepath)

    @property
    def state_key(self) -> str:
        return super().state_key.replace(type(self).__qualname__, "ModelCheckpoint", 1)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if epoch_complete(trainer):
            self._at_last_epoch(
                trainer,
                lambda: super(RunModelCheckpoint, self).on_train_epoch_end(trainer, pl_module),
            )

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        old_dir = state_dict.get("dirpath", self.dirpath)
        tracked = state_dict.get("best_k_models") or {}
        if self.dirpath is None or old_dir == self.dirpath:
            super().load_state_dict(state_dict)
            return
        if self.monitor is None:
            return  # another folder's last.ckpt: nothing of it to track here
        if not tracked:
            super().load_state_dict(state_dict)
            return
        moved: dict[str, str] = {}
        for path in tracked:
            src = Path(path)
            dst = Path(self.dirpath) / src.name
            if src.is_file():
                if rank_zero_only.rank == 0:
                    _link_or_copy(src, dst)
            elif not dst.is_file():  # (present: the run's own folder, moved since)
                log.warning(
                    f"{src} (tracked as one of the best {self.save_top_k} checkpoints by "
                    f"{self.monitor}) no longer exists: the resumed run forgets its score"
                )
                continue
            moved[path] = str(dst)
        self.best_k_models = {moved[p]: score for p, score in tracked.items() if p in moved}
        if not self.best_k_models:
            super().load_state_dict(state_dict)
            return
        best = min if self.mode == "min" else max
        self.best_model_path = best(self.best_k_models, key=self.best_k_models.__getitem__)
        self.best_model_score = self.best_k_models[self.best_model_path]
        worst = max if self.mode == "min" else min
        self.kth_best_model_path = worst(self.best_k_models, key=self.best_k_models.__getitem__)
        self.kth_value = self.best_k_models[self.kth_best_model_path]
        log.info(
            f"Carried the best {len(self.best_k_models)} checkpoint(s) by {self.monitor} into "
            f"{self.dirpath} (best: {Path(self.best_model_path).name})"
        )
