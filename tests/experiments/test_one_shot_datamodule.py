"""Tests of the one-shot data module: batches, per-item training shifts, aligned val/test."""

from __future__ import annotations

import pytest
import torch

from experiments.data.one_shot_datamodule import OneShotDataModule
from experiments.data.tr808_synthetic import TR808SyntheticOneShots

N = 4096


@pytest.fixture(scope="module")
def collection(tmp_path_factory) -> TR808SyntheticOneShots:
    cache = tmp_path_factory.mktemp("cache")
    return TR808SyntheticOneShots(cache, n_per_type=4, n_samples=N, split=(10, 4, 2))


def _epoch(loader, epoch: int) -> list[dict]:
    loader.sampler.set_epoch(epoch)
    return list(loader)


def test_batches_and_meso_shifts(collection):
    dm = OneShotDataModule(collection, batch_size=4, max_shift=2048, shift_seed=3, shuffle_seed=1)
    batches = _epoch(dm.train_dataloader(), 0)
    assert [b["x"].shape for b in batches] == [(4, 1, N), (4, 1, N), (2, 1, N)]
    batch = batches[0]
    assert batch["theta"].shape == (4, 14) and batch["shift"].dtype == torch.int64
    assert len(batch["drum_type"]) == 4 and isinstance(batch["name"][0], str)
    shift_of = {}
    for b in batches:
        shift_of.update(zip(b["index"].tolist(), b["shift"].tolist(), strict=True))
    assert sorted(shift_of) == sorted(collection.splits["train"])
    assert all(-2048 <= s <= 2048 for s in shift_of.values())
    assert len(set(shift_of.values())) > 5
    # a new epoch reorders the items, each keeps its shift
    later = _epoch(dm.train_dataloader(), 1)
    order0 = torch.cat([b["index"] for b in batches]).tolist()
    order1 = torch.cat([b["index"] for b in later]).tolist()
    assert order0 != order1
    for b in later:
        for i, s in zip(b["index"].tolist(), b["shift"].tolist(), strict=True):
            assert shift_of[i] == s
    # the same seeds give the same shifts and order
    again = OneShotDataModule(
        collection, batch_size=4, max_shift=2048, shift_seed=3, shuffle_seed=1
    )
    assert torch.equal(_epoch(again.train_dataloader(), 0)[0]["shift"], batch["shift"])


def test_val_and_test_are_aligned_and_micro_has_no_shift(collection):
    dm = OneShotDataModule(collection, batch_size=4, max_shift=2048)
    for loader in (dm.val_dataloader(), dm.test_dataloader()):
        assert all(bool((b["shift"] == 0).all()) for b in loader)
    val_order = [i for b in dm.val_dataloader() for i in b["index"].tolist()]
    # shuffled once with the run's seed (shuffle_seed 0), the same order at every epoch
    perm = torch.randperm(4, generator=torch.Generator().manual_seed(0)).tolist()
    assert val_order == [collection.splits["val"][i] for i in perm]
    assert [i for b in _epoch(dm.val_dataloader(), 3) for i in b["index"].tolist()] == val_order
    micro = OneShotDataModule(collection, batch_size=4)
    assert all(bool((b["shift"] == 0).all()) for b in micro.train_dataloader())


def test_drop_last_in_every_split(collection):
    dm = OneShotDataModule(collection, batch_size=4, drop_last=True)
    assert len(dm.train_dataloader()) == 2 and len(dm.val_dataloader()) == 1
    assert len(dm.test_dataloader()) == 0  # 2 test items < one batch
    assert len(OneShotDataModule(collection, batch_size=4).test_dataloader()) == 1


def test_bad_arguments(collection, tmp_path):
    with pytest.raises(TypeError, match="OneShotCollection"):
        OneShotDataModule(object())
    with pytest.raises(ValueError, match="batch_size"):
        OneShotDataModule(collection, batch_size=0)
    with pytest.raises(ValueError, match="max_shift"):
        OneShotDataModule(collection, max_shift=-1)
    no_val = TR808SyntheticOneShots(tmp_path, n_per_type=1, n_samples=N, split=(4, 0, 0))
    with pytest.raises(ValueError, match="the val split of .* has 0 examples"):
        OneShotDataModule(no_val)
