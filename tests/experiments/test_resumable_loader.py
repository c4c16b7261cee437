"""EpochShuffleSampler's sharding and mid-epoch resume, and ResumableDataLoader's state."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import Dataset

from experiments.data.epoch_sampler import EpochShuffleSampler
from experiments.data.resumable_loader import ResumableDataLoader


class Items(Dataset):
    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return i


def _loader(n: int, batch: int, world: int = 1, rank: int = 0, epoch: int = 0):
    sampler = EpochShuffleSampler(n, seed=3, num_replicas=world, rank=rank, batch_size=batch)
    sampler.set_epoch(epoch)
    return ResumableDataLoader(Items(n), batch_size=batch, sampler=sampler, drop_last=True)


@pytest.mark.parametrize("world", [2, 3])
def test_rank_batches_concatenate_to_the_single_process_batch(world) -> None:
    n, b = 23, 2
    single = [x.tolist() for x in _loader(n, b * world, epoch=4)]
    ranks = [[x.tolist() for x in _loader(n, b, world, r, epoch=4)] for r in range(world)]
    assert all(len(r) == len(single) == n // (b * world) for r in ranks)  # equal step counts
    for step, batch in enumerate(single):
        assert sum((ranks[r][step] for r in range(world)), []) == batch
    # Every example at most once per epoch over all ranks; the remainder is dropped.
    seen = [i for r in ranks for batch in r for i in batch]
    assert len(set(seen)) == len(seen) == (n // (b * world)) * b * world
    s = EpochShuffleSampler(n, 3, num_replicas=world, rank=0, batch_size=b)
    assert len(s) == len(ranks[0]) * b


def test_sampler_argument_errors() -> None:
    with pytest.raises(ValueError, match="rank must be in 0 .. num_replicas-1 = 1"):
        EpochShuffleSampler(10, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas"):
        EpochShuffleSampler(10, num_replicas=0)
    with pytest.raises(TypeError, match="batch_size"):
        EpochShuffleSampler(10, batch_size=1.5)
    with pytest.raises(ValueError, match="start"):
        EpochShuffleSampler(10).resume_at(0, -1)
    with pytest.raises(TypeError, match="ResumableDataLoader needs sampler=EpochShuffleSampler"):
        ResumableDataLoader(Items(4), batch_size=2)


def test_resume_at_applies_to_one_iteration_of_its_epoch_only() -> None:
    s = EpochShuffleSampler(12, seed=1)
    s.set_epoch(2)
    full = list(s)
    s.resume_at(2, 5)
    assert list(s) == full[5:]
    assert list(s) == full  # once
    s.resume_at(2, 5)
    s.set_epoch(3)
    assert list(s) == s.order(3)  # another epoch forgets it


@pytest.mark.parametrize(("world", "new_world"), [(1, 1), (2, 2), (2, 1), (1, 2)])
def test_loader_state_resumes_at_the_next_batch(world, new_world) -> None:
    """k batches, state_dict, a new loader (any number of ranks) continues the global order."""
    n, b, k, epoch = 40, 2, 3, 5
    ranks = [_loader(n, b, world, r, epoch) for r in range(world)]
    its = [iter(loader) for loader in ranks]
    consumed = [next(it).tolist() for _ in range(k) for it in its]
    states = [loader.state_dict() for loader in ranks]
    assert all(st == {"epoch": epoch, "consumed": k * b * world} for st in states)
    # The uninterrupted global order, from the single-process view.
    order = EpochShuffleSampler(n, seed=3).order(epoch)
    assert sum(consumed, []) == order[: k * b * world]
    resumed = [_loader(n, b, new_world, r, epoch) for r in range(new_world)]
    for loader in resumed:
        loader.load_state_dict(states[0])
    rest = [x.tolist() for batches in zip(*resumed, strict=True) for x in batches]
    g = b * new_world
    expected = order[k * b * world :]
    expected = expected[: len(expected) // g * g]
    assert sum(rest, []) == expected
    # ... and the next epoch starts from its beginning again.
    for loader in resumed:
        loader.sampler.set_epoch(epoch + 1)
    assert [x.tolist() for x in resumed[0]][0] == EpochShuffleSampler(
        n, 3, num_replicas=new_world, rank=0, batch_size=b
    ).shard(EpochShuffleSampler(n, 3).order(epoch + 1))[:b]


def test_restored_state_of_another_epoch_is_ignored() -> None:
    loader = _loader(10, 2, epoch=1)
    loader.load_state_dict({"epoch": 0, "consumed": 6})
    assert torch.cat(list(loader)).tolist() == EpochShuffleSampler(10, seed=3).order(1)
    assert loader.state_dict() == {"epoch": 1, "consumed": 10}
