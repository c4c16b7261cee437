"""ThetaGridDataModule (experiments/data/datamodule.py) and EpochShuffleSampler."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch
from torch import nn

from experiments.data.datamodule import ThetaGridDataModule
from experiments.data.epoch_sampler import EpochShuffleSampler

# 36 points in 5 folds (8, 7, 7, 7, 7): 22 / 7 / 7 points, 3 seeds each.
SMALL = dict(n_per_dim=6, n_dims=2, n_seeds=3, batch_size=5)


def _items(loader) -> list[tuple[tuple[float, ...], int, int]]:
    """(θ, seed, point) of every example, in loader order."""
    out = []
    for batch in loader:
        for theta, s, p in zip(batch["theta"], batch["seed"], batch["point"], strict=True):
            out.append((tuple(theta.tolist()), int(s), int(p)))
    return out


def _epoch(loader, epoch: int) -> list[int]:
    loader.sampler.set_epoch(epoch)
    return [int(p) for batch in loader for p in batch["seed"]]


# --------------------------------------------------------------------------- splits


def test_splits_disjoint_in_theta_and_drop_last() -> None:
    dm = ThetaGridDataModule(**SMALL, drop_last=False)
    splits = {
        "train": _items(dm.train_dataloader()),
        "val": _items(dm.val_dataloader()),
        "test": _items(dm.test_dataloader()),
    }
    thetas = {k: {item[0] for item in v} for k, v in splits.items()}
    assert thetas["train"].isdisjoint(thetas["val"])
    assert thetas["train"].isdisjoint(thetas["test"])
    assert thetas["val"].isdisjoint(thetas["test"])
    assert {k: len(v) for k, v in thetas.items()} == {"train": 22, "val": 7, "test": 7}
    for name, items in splits.items():
        assert len(items) == len(thetas[name]) * SMALL["n_seeds"]
        assert len({i[1] for i in items}) == len(items)  # no example twice in an epoch
    seeds = [i[1] for v in splits.values() for i in v]
    assert sorted(seeds) == list(range(36 * SMALL["n_seeds"]))
    # Folds: point p in fold p mod 5, folds 0-2 train, 3 val, 4 test.
    assert {i[2] % 5 for i in splits["val"]} == {3} and {i[2] % 5 for i in splits["test"]} == {4}


def test_paper_grid_sizes() -> None:
    dm = ThetaGridDataModule()
    n = {s: sum(b["seed"].numel() for b in loader) for s, loader in (
        ("train", dm.train_dataloader()), ("val", dm.val_dataloader()),
        ("test", dm.test_dataloader()),
    )}  # fmt: skip
    assert n == {"train": 3072, "val": 1024, "test": 992}
    assert len(dm.train_dataloader()) == 96


def test_every_split_drops_its_last_incomplete_batch() -> None:
    dm = ThetaGridDataModule(**SMALL)  # 66 / 21 / 21 examples, batch 5
    for loader, n_batches in (
        (dm.train_dataloader(), 13), (dm.val_dataloader(), 4), (dm.test_dataloader(), 4),
    ):  # fmt: skip
        sizes = [b["theta"].shape[0] for b in loader]
        assert sizes == [5] * n_batches
    batch = next(iter(dm.train_dataloader()))
    assert batch["theta"].shape == (5, 2) and batch["theta"].dtype == torch.float32
    assert batch["seed"].dtype == torch.int64 and set(batch) == {"theta", "seed", "point"}


# --------------------------------------------------------------------------- order


def test_train_order_is_a_function_of_seed_and_epoch() -> None:
    torch.manual_seed(0)
    first = _epoch(
        ThetaGridDataModule(**SMALL, shuffle_seed=3, drop_last=False).train_dataloader(), 4
    )
    torch.manual_seed(123)  # the global RNG plays no part
    torch.rand(100)
    again = _epoch(
        ThetaGridDataModule(**SMALL, shuffle_seed=3, drop_last=False).train_dataloader(), 4
    )
    assert first == again
    assert sorted(first) != first  # shuffled


def test_epochs_and_seeds_give_different_orders() -> None:
    loader = ThetaGridDataModule(**SMALL, shuffle_seed=3, drop_last=False).train_dataloader()
    orders = [_epoch(loader, e) for e in range(4)]
    assert all(sorted(o) == sorted(orders[0]) for o in orders)  # same examples
    assert len({tuple(o) for o in orders}) == 4
    other = ThetaGridDataModule(**SMALL, shuffle_seed=4, drop_last=False).train_dataloader()
    assert _epoch(other, 0) != orders[0]
    # Going back to an epoch gives its order again (what a resume relies on).
    assert _epoch(loader, 1) == orders[1]


def test_val_and_test_are_shuffled_once_per_seed() -> None:
    dm = ThetaGridDataModule(**SMALL, shuffle_seed=5, drop_last=False)
    for loader, dataset in (
        (dm.val_dataloader(), dm.val_dataset),
        (dm.test_dataloader(), dm.test_dataset),
    ):
        gen = torch.Generator().manual_seed(5)
        order = torch.randperm(len(dataset), generator=gen).tolist()
        expected = [int(dataset[i]["seed"]) for i in order]
        assert _epoch(loader, 0) == expected != sorted(expected)
        assert _epoch(loader, 7) == expected  # the same examples at every epoch
    other = ThetaGridDataModule(**SMALL, shuffle_seed=6, drop_last=False).val_dataloader()
    assert _epoch(other, 0) != _epoch(dm.val_dataloader(), 0)


def test_train_order_method_matches_the_loader() -> None:
    dm = ThetaGridDataModule(**SMALL, shuffle_seed=3, drop_last=False)
    for epoch in (0, 2):
        expected = [int(dm.train_dataset[i]["seed"]) for i in dm.train_order(epoch)]
        assert _epoch(dm.train_dataloader(), epoch) == expected


def test_lightning_sets_the_sampler_epoch() -> None:
    """Inside a real fit, epoch e sees EpochShuffleSampler(seed).set_epoch(e)'s order."""

    class Recorder(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))
            self.seen: dict[int, list[int]] = {}

        def training_step(self, batch, batch_idx):
            self.seen.setdefault(self.current_epoch, []).extend(batch["seed"].tolist())
            return (self.w * batch["theta"].sum()).sum()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.0)

    dm = ThetaGridDataModule(**SMALL, shuffle_seed=11, drop_last=False)
    model = Recorder()
    trainer = pl.Trainer(
        max_epochs=3, accelerator="cpu", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
    )  # fmt: skip
    trainer.fit(model, datamodule=dm)
    for epoch in range(3):
        sampler = EpochShuffleSampler(len(dm.train_dataset), seed=11)
        sampler.set_epoch(epoch)
        expected = [int(dm.train_dataset[i]["seed"]) for i in sampler]
        assert model.seen[epoch] == expected, epoch


def test_ddp_sampler_replacement_keeps_the_epoch_order() -> None:
    """trainer=ddp: Lightning wraps the sampler per rank; shards follow the epoch's order."""
    from lightning.fabric.utilities.data import _set_sampler_epoch
    from lightning.fabric.utilities.distributed import DistributedSamplerWrapper

    dm = ThetaGridDataModule(**SMALL, shuffle_seed=2, drop_last=False)
    n = len(dm.train_dataset)  # 66: 33 per rank
    loaders = []
    for rank in (0, 1):
        wrapped = DistributedSamplerWrapper(
            dm.train_dataloader().sampler, num_replicas=2, rank=rank, shuffle=False
        )
        loaders.append(torch.utils.data.DataLoader(range(n), sampler=wrapped, batch_size=7))
    for epoch in (0, 1, 3):
        shards = []
        for loader in loaders:
            _set_sampler_epoch(loader, epoch)  # what the fit loop does each epoch
            shards.append([int(i) for b in loader for i in b])
        order = EpochShuffleSampler(n, seed=2)
        order.set_epoch(epoch)
        expected = list(order)
        assert shards[0] == expected[0::2] and shards[1] == expected[1::2], epoch


# --------------------------------------------------------------------------- sampler


def test_sampler_permutations() -> None:
    s = EpochShuffleSampler(10, seed=2)
    assert len(s) == 10 and s.epoch == 0
    e0 = list(s)
    assert sorted(e0) == list(range(10)) and list(s) == e0  # iterating again: same epoch
    s.set_epoch(1)
    assert list(s) != e0 and sorted(s) == list(range(10))
    # seed + epoch is the generator seed.
    gen = torch.Generator().manual_seed(3)
    assert list(s) == torch.randperm(10, generator=gen).tolist()
    fixed = EpochShuffleSampler(10, seed=2, reshuffle=False)
    fixed.set_epoch(3)
    assert list(fixed) == e0 == fixed.order(0) == s.order(0)
    unshuffled = EpochShuffleSampler(10, seed=2, shuffle=False)
    unshuffled.set_epoch(5)
    assert list(unshuffled) == list(range(10))
    assert list(EpochShuffleSampler(0)) == [] and len(EpochShuffleSampler(0)) == 0


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(n_items=-1), ValueError, "n_items"),
        (dict(n_items=2.5), TypeError, "n_items"),
        (dict(n_items=4, seed=-1), ValueError, "seed"),
        (dict(n_items=4, shuffle="yes"), TypeError, "shuffle"),
        (dict(n_items=4, reshuffle=1), TypeError, "reshuffle"),
    ],
)
def test_sampler_bad_args(kwargs, exc, match) -> None:
    with pytest.raises(exc, match=match):
        EpochShuffleSampler(**kwargs)


def test_sampler_bad_epoch() -> None:
    s = EpochShuffleSampler(4)
    with pytest.raises(ValueError, match="epoch"):
        s.set_epoch(-1)
    with pytest.raises(TypeError, match="epoch"):
        s.set_epoch(1.0)


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(batch_size=-4), ValueError, "batch_size"),
        (dict(batch_size=2.0), TypeError, "batch_size"),
        (dict(shuffle_seed=-1), ValueError, "shuffle_seed"),
        (dict(num_workers=-1), ValueError, "num_workers"),
        (dict(val_folds=()), ValueError, "val split .* fewer than one batch"),
        (dict(train_folds=()), ValueError, "train split .* fewer than one batch"),
        (dict(n_per_dim=2), ValueError, "val split .* fewer than one batch"),
        (dict(batch_size=30), ValueError, "val split .* has 21 examples"),
        (dict(val_folds=(7,)), ValueError, "val_folds"),
        (dict(n_per_dim=0), ValueError, "n_per_dim"),
        (dict(drop_last=1), TypeError, "drop_last"),
    ],
)
def test_bad_args(kwargs, exc, match) -> None:
    with pytest.raises(exc, match=match):
        ThetaGridDataModule(**{**SMALL, **kwargs})


def test_empty_test_split_is_allowed() -> None:
    # Only train and val must be non-empty (test=false runs need no test split).
    dm = ThetaGridDataModule(**{**SMALL, "test_folds": ()})
    assert len(dm.test_dataset) == 0 and list(dm.test_dataloader()) == []
