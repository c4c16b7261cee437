"""ThetaGridDataModule (experiments/data/datamodule.py) and EpochShuffleSampler."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch
from torch import nn

from experiments.data.datamodule import ThetaGridDataModule
from experiments.data.epoch_sampler import EpochShuffleSampler

SMALL = dict(n_per_dim=6, n_dims=2, n_seeds=3, fractions=(0.6, 0.2, 0.2), batch_size=5)


def _items(loader) -> list[tuple[tuple[float, ...], int, int, int]]:
    """(θ, seed, seed_hat, point) of every example, in loader order."""
    out = []
    for batch in loader:
        for theta, s, sh, p in zip(
            batch["theta"], batch["seed"], batch["seed_hat"], batch["point"], strict=True
        ):
            out.append((tuple(theta.tolist()), int(s), int(sh), int(p)))
    return out


def _epoch(loader, epoch: int) -> list[int]:
    loader.sampler.set_epoch(epoch)
    return [int(p) for batch in loader for p in batch["seed"]]


# --------------------------------------------------------------------------- splits


def test_splits_disjoint_in_theta_and_cover_the_grid() -> None:
    dm = ThetaGridDataModule(**SMALL)
    splits = {
        "train": _items(dm.train_dataloader()),
        "val": _items(dm.val_dataloader()),
        "test": _items(dm.test_dataloader()),
    }
    thetas = {k: {item[0] for item in v} for k, v in splits.items()}
    assert thetas["train"].isdisjoint(thetas["val"])
    assert thetas["train"].isdisjoint(thetas["test"])
    assert thetas["val"].isdisjoint(thetas["test"])
    n_points = SMALL["n_per_dim"] ** SMALL["n_dims"]
    assert sum(len(t) for t in thetas.values()) == n_points
    # 36 points -> 21.6/7.2/7.2 -> 22/7/7 points, 3 seeds each, every example once.
    assert {k: len(v) for k, v in thetas.items()} == {"train": 22, "val": 7, "test": 7}
    for name, items in splits.items():
        assert len(items) == len(thetas[name]) * SMALL["n_seeds"]
        assert len({i[1] for i in items}) == len(items)  # no example twice in an epoch
    seeds = [i[1] for v in splits.values() for i in v]
    seeds_hat = [i[2] for v in splits.values() for i in v]
    assert sorted(seeds) == list(range(n_points * SMALL["n_seeds"]))
    assert set(seeds).isdisjoint(seeds_hat)
    grid = {tuple(round(float(x), 6) for x in p) for p in dm.grid.points()}
    assert {tuple(round(x, 6) for x in t) for v in thetas.values() for t in v} == grid


def test_split_depends_on_split_seed_not_shuffle_seed() -> None:
    def val_points(**kw) -> list[int]:
        return [i[3] for i in _items(ThetaGridDataModule(**{**SMALL, **kw}).val_dataloader())]

    assert val_points(shuffle_seed=0) == val_points(shuffle_seed=9)
    assert val_points(split_seed=0) != val_points(split_seed=1)


def test_batches_shapes_and_drop_last() -> None:
    dm = ThetaGridDataModule(**SMALL)  # 66 training examples, batch 5
    sizes = [b["theta"].shape[0] for b in dm.train_dataloader()]
    assert sizes == [5] * 13 + [1]
    batch = next(iter(dm.train_dataloader()))
    assert batch["theta"].shape == (5, 2) and batch["theta"].dtype == torch.float32
    assert batch["seed"].dtype == torch.int64 and batch["seed_hat"].shape == (5,)
    dm = ThetaGridDataModule(**SMALL, drop_last=True)
    assert [b["theta"].shape[0] for b in dm.train_dataloader()] == [5] * 13
    # drop_last is for training only: evaluation sees every example.
    assert sum(b["theta"].shape[0] for b in dm.val_dataloader()) == 21
    assert sum(b["theta"].shape[0] for b in dm.test_dataloader()) == 21


# --------------------------------------------------------------------------- order


def test_train_order_is_a_function_of_seed_and_epoch() -> None:
    torch.manual_seed(0)
    first = _epoch(ThetaGridDataModule(**SMALL, shuffle_seed=3).train_dataloader(), 4)
    torch.manual_seed(123)  # the global RNG plays no part
    torch.rand(100)
    again = _epoch(ThetaGridDataModule(**SMALL, shuffle_seed=3).train_dataloader(), 4)
    assert first == again
    assert sorted(first) != first  # shuffled


def test_epochs_and_seeds_give_different_orders() -> None:
    loader = ThetaGridDataModule(**SMALL, shuffle_seed=3).train_dataloader()
    orders = [_epoch(loader, e) for e in range(4)]
    assert all(sorted(o) == sorted(orders[0]) for o in orders)  # same examples
    assert len({tuple(o) for o in orders}) == 4
    other = ThetaGridDataModule(**SMALL, shuffle_seed=4).train_dataloader()
    assert _epoch(other, 0) != orders[0]
    # Going back to an epoch gives its order again (what a resume relies on).
    assert _epoch(loader, 1) == orders[1]


def test_val_and_test_are_not_shuffled() -> None:
    dm = ThetaGridDataModule(**SMALL, shuffle_seed=5)
    for loader, dataset in (
        (dm.val_dataloader(), dm.val_dataset),
        (dm.test_dataloader(), dm.test_dataset),
    ):
        expected = [int(dataset[i]["seed"]) for i in range(len(dataset))]
        assert _epoch(loader, 0) == expected
        assert _epoch(loader, 7) == expected


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

    dm = ThetaGridDataModule(**SMALL, shuffle_seed=11)
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

    dm = ThetaGridDataModule(**SMALL, shuffle_seed=2)
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
        (dict(fractions=(1.0, 0.0, 0.0)), ValueError, "val split .* is empty"),
        (dict(fractions=(0.0, 0.5, 0.5)), ValueError, "train split .* is empty"),
        (dict(n_per_dim=1, fractions=(0.6, 0.2, 0.2)), ValueError, "split .* is empty"),
        (dict(fractions=(0.5, 0.5)), ValueError, "fractions"),
        (dict(n_per_dim=0), ValueError, "n_per_dim"),
    ],
)
def test_bad_args(kwargs, exc, match) -> None:
    with pytest.raises(exc, match=match):
        ThetaGridDataModule(**{**SMALL, **kwargs})


def test_empty_test_split_is_allowed() -> None:
    # Only train and val must be non-empty (test=false runs need no test split).
    dm = ThetaGridDataModule(**{**SMALL, "fractions": (0.5, 0.5, 0.0)})
    assert len(dm.test_dataset) == 0 and list(dm.test_dataloader()) == []
