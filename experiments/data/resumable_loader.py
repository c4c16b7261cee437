"""A DataLoader that Lightning can checkpoint mid-epoch (its ``state_dict`` interface).

Lightning stores the state of a training dataloader that has ``state_dict`` /
``load_state_dict`` in every checkpoint and gives it back before the resumed epoch starts.
The state here is the epoch and the number of examples of that epoch's global order
consumed so far, over all ranks; restoring it makes the sampler
(:class:`~experiments.data.epoch_sampler.EpochShuffleSampler`) start the epoch where the
interrupted run stopped, so that a run resumed from a checkpoint written in the middle of an
epoch sees the batches the uninterrupted run would have seen (on any number of devices).

The count is exact because the loader has a length: Lightning does not prefetch batches of
a sized loader, so the batches yielded are the batches trained on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from torch.utils.data import DataLoader

from experiments.data.epoch_sampler import EpochShuffleSampler

__all__ = ["ResumableDataLoader"]


class ResumableDataLoader(DataLoader):
    """A :class:`torch.utils.data.DataLoader` over an :class:`EpochShuffleSampler` whose
    position in the epoch is part of its state; same arguments as DataLoader (``sampler``
    must be an EpochShuffleSampler, and batches must be full: ``drop_last=True`` or a
    dataset that the global batch divides)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(self.sampler, EpochShuffleSampler):
            raise TypeError(
                "ResumableDataLoader needs sampler=EpochShuffleSampler(...), got "
                f"{type(self.sampler).__name__}"
            )
        self._epoch = 0
        self._consumed = 0
        self._restored: tuple[int, int] | None = None

    def __iter__(self) -> Iterator[Any]:
        # A generator: this runs at the first batch, after Lightning's set_epoch.
        sampler: EpochShuffleSampler = self.sampler
        restored, self._restored = self._restored, None
        start = restored[1] if restored is not None and restored[0] == sampler.epoch else 0
        sampler.resume_at(sampler.epoch, start)
        self._epoch, self._consumed = sampler.epoch, start
        for batch in super().__iter__():
            self._consumed += sampler.global_batch
            yield batch

    def state_dict(self) -> dict[str, int]:
        """``{"epoch", "consumed"}``: examples of the epoch's global order trained on."""
        return {"epoch": self._epoch, "consumed": self._consumed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Make the next iteration of ``state["epoch"]`` start after its consumed examples."""
        self._restored = (int(state["epoch"]), int(state["consumed"]))
