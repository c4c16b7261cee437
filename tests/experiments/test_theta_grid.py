"""Tests of the θ-grid dataset of the synthetic experiments (experiments/data/theta_grid.py)."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from experiments.data.theta_grid import SPLITS, ThetaGrid, ThetaGridDataset

PAPER = ThetaGrid()
SMALL = ThetaGrid(n_per_dim=8, n_seeds=2)


def _all_items(ds: ThetaGridDataset) -> list[dict[str, torch.Tensor]]:
    return [ds[i] for i in range(len(ds))]


# --------------------------------------------------------------------------------- grid
def test_points_are_k_over_33_endpoints_excluded() -> None:
    pts = PAPER.points()
    assert pts.shape == (1024, 2)
    assert pts.dtype == torch.float32
    values = torch.tensor([k / 33 for k in range(1, 33)])
    # row-major: the last dimension varies fastest, point (i, j) is p = 32 i + j
    assert torch.equal(pts[:32, 0], torch.full((32,), values[0].item()))
    torch.testing.assert_close(pts[:32, 1], values, rtol=0, atol=1e-7)
    torch.testing.assert_close(pts[32 * 5 + 7], torch.stack([values[5], values[7]]))
    assert 0.0 < pts.min() and pts.max() < 1.0
    assert len({tuple(p) for p in pts.tolist()}) == 1024


def test_points_other_shapes() -> None:
    assert ThetaGrid(n_per_dim=3, n_dims=3).points().shape == (27, 3)
    one = ThetaGrid(n_per_dim=1, n_dims=2).points()
    assert one.shape == (1, 2) and torch.equal(one, torch.full((1, 2), 0.5))
    assert ThetaGrid(n_per_dim=4).points(torch.float64).dtype == torch.float64
    torch.testing.assert_close(
        ThetaGrid(n_per_dim=3, n_dims=1).points()[:, 0], torch.tensor([0.25, 0.5, 0.75])
    )


# -------------------------------------------------------------------------------- split
def test_folds_are_p_mod_5() -> None:
    folds = PAPER.folds()
    for i, j in [(0, 0), (0, 4), (1, 0), (3, 17), (31, 31)]:
        assert int(folds[32 * i + j]) == (32 * i + j) % 5
    idx = PAPER.split_point_indices()
    assert {k: int(v.numel()) for k, v in idx.items()} == {"train": 615, "val": 205, "test": 204}
    assert torch.equal(idx["val"], torch.arange(3, 1024, 5))
    assert torch.equal(idx["test"], torch.arange(4, 1024, 5))


def test_split_disjoint_and_covering() -> None:
    idx = PAPER.split_point_indices()
    all_idx = torch.cat([idx[s] for s in SPLITS])
    assert torch.equal(torch.sort(all_idx).values, torch.arange(1024))
    for s in SPLITS:
        assert idx[s].dtype == torch.int64
        assert torch.equal(idx[s], torch.sort(idx[s]).values)


def test_split_theta_pairs_disjoint_and_every_value_everywhere() -> None:
    thetas = {
        s: {tuple(item["theta"].tolist()) for item in _all_items(ThetaGridDataset(PAPER, s))}
        for s in SPLITS
    }
    assert {s: len(t) for s, t in thetas.items()} == {"train": 615, "val": 205, "test": 204}
    assert not thetas["train"] & thetas["val"]
    assert not thetas["train"] & thetas["test"]
    assert not thetas["val"] & thetas["test"]
    # 32 is not a multiple of 5: the folds run diagonally, every value of each axis occurs
    # in every split.
    for s in SPLITS:
        for axis in range(2):
            assert len({t[axis] for t in thetas[s]}) == 32, (s, axis)


def test_every_seed_of_a_point_in_same_split() -> None:
    split_of_point: dict[int, str] = {}
    seeds_of_point: dict[int, set[int]] = {}
    for s in SPLITS:
        for item in _all_items(ThetaGridDataset(PAPER, s)):
            p = int(item["point"])
            assert split_of_point.setdefault(p, s) == s
            seeds_of_point.setdefault(p, set()).add(int(item["seed"]))
    assert len(split_of_point) == 1024
    assert all(len(v) == PAPER.n_seeds for v in seeds_of_point.values())


def test_other_fold_assignments() -> None:
    grid = ThetaGrid(n_per_dim=4, n_folds=4, train_folds=(0, 1), val_folds=(2,), test_folds=())
    idx = grid.split_point_indices()
    assert torch.equal(idx["val"], torch.tensor([2, 6, 10, 14]))
    assert idx["test"].numel() == 0 and len(ThetaGridDataset(grid, "test")) == 0


# ------------------------------------------------------------------------------ dataset
def test_dataset_lengths_paper() -> None:
    lengths = {s: len(ThetaGridDataset(PAPER, s)) for s in SPLITS}
    assert lengths == {"train": 3075, "val": 1025, "test": 1020}
    assert sum(lengths.values()) == 5120 == PAPER.n_examples


def test_item_format_and_target_seed_is_the_example_index() -> None:
    ds = ThetaGridDataset(PAPER, "val")
    pts = PAPER.points()
    for i in (0, 1, 4, 5, len(ds) - 1):
        item = ds[i]
        assert set(item) == {"theta", "seed", "point"}
        assert item["theta"].shape == (2,) and item["theta"].dtype == torch.float32
        for key in ("seed", "point"):
            assert item[key].shape == () and item[key].dtype == torch.int64
        p = int(item["point"])
        assert torch.equal(item["theta"], pts[p])
        assert int(item["seed"]) == p * 5 + i % 5
    assert torch.equal(ds[-1]["seed"], ds[len(ds) - 1]["seed"])
    # items are deterministic and not aliased to the dataset's storage
    a = ds[3]
    a["theta"].fill_(7.0)
    assert torch.equal(ds[3]["theta"], pts[int(ds[3]["point"])])


def test_target_seeds_unique_over_all_splits() -> None:
    seeds = [int(item["seed"]) for s in SPLITS for item in _all_items(ThetaGridDataset(PAPER, s))]
    assert sorted(seeds) == list(range(5120))


def test_dataloader_collation() -> None:
    ds = ThetaGridDataset(PAPER, "train")
    loader = DataLoader(ds, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0))
    batch = next(iter(loader))
    assert batch["theta"].shape == (32, 2) and batch["theta"].dtype == torch.float32
    assert batch["seed"].shape == (32,) and batch["seed"].dtype == torch.int64
    assert batch["point"].shape == (32,)


def test_grid_is_frozen_and_normalises_folds() -> None:
    g = ThetaGrid(train_folds=[0, 1, 2])  # type: ignore[arg-type]
    assert g.train_folds == (0, 1, 2)
    with pytest.raises(AttributeError):
        g.n_seeds = 3  # type: ignore[misc]


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize("name", ["n_per_dim", "n_dims", "n_seeds", "n_folds"])
def test_positive_int_arguments(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        ThetaGrid(**{name: 0})
    with pytest.raises(ValueError, match=name):
        ThetaGrid(**{name: -2})
    with pytest.raises(TypeError, match=name):
        ThetaGrid(**{name: 2.0})
    with pytest.raises(TypeError, match=name):
        ThetaGrid(**{name: True})


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"val_folds": (5,)}, ValueError, "val_folds"),
        ({"test_folds": (-1,)}, ValueError, "test_folds"),
        ({"train_folds": (0, 1, 3)}, ValueError, "disjoint"),
        ({"train_folds": "012"}, TypeError, "train_folds"),
        ({"val_folds": 3}, TypeError, "val_folds"),
        ({"val_folds": (3.0,)}, TypeError, "val_folds"),
    ],
)
def test_fold_arguments(kwargs: dict, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        ThetaGrid(**kwargs)


def test_dataset_arguments() -> None:
    with pytest.raises(ValueError, match="split"):
        ThetaGridDataset(PAPER, "validation")
    with pytest.raises(TypeError, match="split"):
        ThetaGridDataset(PAPER, 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="grid"):
        ThetaGridDataset("paper", "train")  # type: ignore[arg-type]


def test_index_errors() -> None:
    ds = ThetaGridDataset(SMALL, "test")
    with pytest.raises(IndexError, match="index"):
        ds[len(ds)]
    with pytest.raises(IndexError, match="index"):
        ds[-len(ds) - 1]
    with pytest.raises(TypeError, match="index"):
        ds[1.0]  # type: ignore[index]
    with pytest.raises(TypeError, match="index"):
        ds[True]
    assert torch.equal(ds[torch.tensor(2)]["seed"], ds[2]["seed"])  # type: ignore[index]
    with pytest.raises(IndexError, match="point"):
        SMALL.target_seed(64, 0)
    with pytest.raises(IndexError, match="seed slot"):
        SMALL.target_seed(0, 2)
