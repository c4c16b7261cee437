"""Tests of the θ-grid dataset of the synthetic experiments (experiments/data/theta_grid.py)."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from experiments.data.theta_grid import (
    SPLITS,
    ThetaGrid,
    ThetaGridDataset,
    split_sizes,
)

PAPER = ThetaGrid()
QUICK = ThetaGrid(n_per_dim=8, n_seeds=2)


def _all_items(ds: ThetaGridDataset) -> list[dict[str, torch.Tensor]]:
    return [ds[i] for i in range(len(ds))]


# --------------------------------------------------------------------------------- grid
def test_points_shape_and_values() -> None:
    pts = PAPER.points()
    assert pts.shape == (1024, 2)
    assert pts.dtype == torch.float32
    lin = torch.linspace(0.0, 1.0, 32)
    # row-major: the last dimension varies fastest
    assert torch.equal(pts[:32, 0], torch.zeros(32))
    assert torch.equal(pts[:32, 1], lin)
    assert torch.equal(pts[::32, 0], lin)
    # endpoints included, all values in [0, 1], every combination exactly once
    assert pts.min() == 0.0 and pts.max() == 1.0
    assert {tuple(p) for p in pts.tolist()} == {(a, b) for a in lin.tolist() for b in lin.tolist()}
    assert torch.equal(torch.unique(pts[:, 0]), lin)
    assert torch.equal(torch.unique(pts[:, 1]), lin)


def test_points_other_shapes() -> None:
    assert ThetaGrid(n_per_dim=3, n_dims=3).points().shape == (27, 3)
    one = ThetaGrid(n_per_dim=1, n_dims=2).points()
    assert one.shape == (1, 2) and torch.equal(one, torch.zeros(1, 2))
    assert ThetaGrid(n_per_dim=4).points(torch.float64).dtype == torch.float64
    assert torch.allclose(
        ThetaGrid(n_per_dim=5, n_dims=1).points()[:, 0], torch.tensor([0, 0.25, 0.5, 0.75, 1])
    )


# -------------------------------------------------------------------------------- split
def test_split_sizes_paper_grid() -> None:
    sizes = PAPER.split_sizes()
    assert sizes == {"train": 614, "val": 205, "test": 205}
    idx = PAPER.split_point_indices()
    assert {k: int(v.numel()) for k, v in idx.items()} == sizes
    assert sum(sizes.values()) == 1024


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 10, 64, 100, 1023, 1024])
@pytest.mark.parametrize(
    "fractions",
    [(0.6, 0.2, 0.2), (0.8, 0.1, 0.1), (1.0, 0.0, 0.0), (0.5, 0.5, 0.0), (0.7, 0.2, 0.1)],
)
def test_split_sizes_rounding(n: int, fractions: tuple[float, float, float]) -> None:
    sizes = split_sizes(n, fractions)
    assert sum(sizes) == n
    for s, f in zip(sizes, fractions, strict=True):
        assert abs(s - f * n) < 1.0
        if f == 0.0:
            assert s == 0


def test_split_disjoint_and_covering() -> None:
    idx = PAPER.split_point_indices()
    all_idx = torch.cat([idx[s] for s in SPLITS])
    assert torch.equal(torch.sort(all_idx).values, torch.arange(1024))
    for s in SPLITS:
        assert idx[s].dtype == torch.int64
        assert torch.equal(idx[s], torch.sort(idx[s]).values)


def test_split_theta_pairs_disjoint() -> None:
    thetas = {
        s: {tuple(item["theta"].tolist()) for item in _all_items(ThetaGridDataset(PAPER, s))}
        for s in SPLITS
    }
    assert {s: len(t) for s, t in thetas.items()} == {"train": 614, "val": 205, "test": 205}
    assert not thetas["train"] & thetas["val"]
    assert not thetas["train"] & thetas["test"]
    assert not thetas["val"] & thetas["test"]
    every = {tuple(p) for p in PAPER.points().tolist()}
    assert thetas["train"] | thetas["val"] | thetas["test"] == every


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


def test_split_determinism() -> None:
    a = ThetaGrid(split_seed=3).split_point_indices()
    b = ThetaGrid(split_seed=3).split_point_indices()
    c = ThetaGrid(split_seed=4).split_point_indices()
    assert all(torch.equal(a[s], b[s]) for s in SPLITS)
    assert any(not torch.equal(a[s], c[s]) for s in SPLITS)
    # the split is random over the grid, not a contiguous block
    assert not torch.equal(a["val"], torch.arange(614, 819))


# ------------------------------------------------------------------------------ dataset
def test_dataset_lengths_paper() -> None:
    lengths = {s: len(ThetaGridDataset(PAPER, s)) for s in SPLITS}
    assert lengths == {"train": 614 * 5, "val": 205 * 5, "test": 205 * 5}
    assert sum(lengths.values()) == 5120 == PAPER.n_examples


def test_item_format_and_consistency() -> None:
    ds = ThetaGridDataset(PAPER, "val")
    pts = PAPER.points()
    for i in (0, 1, 4, 5, len(ds) - 1):
        item = ds[i]
        assert set(item) == {"theta", "seed", "seed_hat", "point"}
        assert item["theta"].shape == (2,) and item["theta"].dtype == torch.float32
        for key in ("seed", "seed_hat", "point"):
            assert item[key].shape == () and item[key].dtype == torch.int64
        p = int(item["point"])
        assert torch.equal(item["theta"], pts[p])
        assert int(item["seed"]) == p * 5 + i % 5
        assert int(item["seed_hat"]) == 5120 + int(item["seed"])
    assert torch.equal(ds[-1]["seed"], ds[len(ds) - 1]["seed"])
    # items are deterministic and not aliased to the dataset's storage
    a = ds[3]
    a["theta"].fill_(7.0)
    assert torch.equal(ds[3]["theta"], pts[int(ds[3]["point"])])


def test_seeds_unique_and_disjoint_from_seed_hat() -> None:
    seeds: list[int] = []
    seed_hats: list[int] = []
    for s in SPLITS:
        for item in _all_items(ThetaGridDataset(PAPER, s)):
            seeds.append(int(item["seed"]))
            seed_hats.append(int(item["seed_hat"]))
            assert item["seed"] != item["seed_hat"]
    assert len(seeds) == len(set(seeds)) == 5120
    assert len(seed_hats) == len(set(seed_hats)) == 5120
    assert not set(seeds) & set(seed_hats)


def test_seeds_independent_of_split_seed() -> None:
    def seeds(grid: ThetaGrid) -> dict[int, set[tuple[int, int]]]:
        out: dict[int, set[tuple[int, int]]] = {}
        for s in SPLITS:
            for item in _all_items(ThetaGridDataset(grid, s)):
                pair = (int(item["seed"]), int(item["seed_hat"]))
                out.setdefault(int(item["point"]), set()).add(pair)
        return out

    assert seeds(ThetaGrid(n_per_dim=4, split_seed=0)) == seeds(
        ThetaGrid(n_per_dim=4, split_seed=9)
    )


def test_dataloader_collation() -> None:
    ds = ThetaGridDataset(PAPER, "train")
    loader = DataLoader(ds, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0))
    batch = next(iter(loader))
    assert batch["theta"].shape == (32, 2) and batch["theta"].dtype == torch.float32
    assert batch["seed"].shape == (32,) and batch["seed"].dtype == torch.int64
    assert batch["seed_hat"].shape == (32,) and batch["point"].shape == (32,)
    n = sum(b["seed"].numel() for b in DataLoader(ds, batch_size=32))
    assert n == len(ds)


def test_quick_preset() -> None:
    quick = QUICK
    assert quick.n_points == 64 and quick.n_examples == 128
    assert quick.split_sizes() == {"train": 38, "val": 13, "test": 13}
    lengths = {s: len(ThetaGridDataset(quick, s)) for s in SPLITS}
    assert lengths == {"train": 76, "val": 26, "test": 26}
    assert quick.points().shape == (64, 2)


def test_grid_is_frozen_and_normalises_fractions() -> None:
    g = ThetaGrid(fractions=[1, 0, 0])  # type: ignore[arg-type]
    assert g.fractions == (1.0, 0.0, 0.0)
    assert len(ThetaGridDataset(g, "val")) == 0
    with pytest.raises(AttributeError):
        g.n_seeds = 3  # type: ignore[misc]


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize("name", ["n_per_dim", "n_dims", "n_seeds"])
def test_positive_int_arguments(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        ThetaGrid(**{name: 0})
    with pytest.raises(ValueError, match=name):
        ThetaGrid(**{name: -2})
    with pytest.raises(TypeError, match=name):
        ThetaGrid(**{name: 2.0})
    with pytest.raises(TypeError, match=name):
        ThetaGrid(**{name: True})


def test_split_seed_argument() -> None:
    with pytest.raises(ValueError, match="split_seed"):
        ThetaGrid(split_seed=-1)
    with pytest.raises(TypeError, match="split_seed"):
        ThetaGrid(split_seed="0")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fractions", "error"),
    [
        ((0.5, 0.2, 0.2), ValueError),  # sum 0.9
        ((0.6, 0.3, 0.2), ValueError),  # sum 1.1
        ((0.6, 0.4), ValueError),  # two entries
        ((0.5, 0.2, 0.2, 0.1), ValueError),  # four entries
        ((1.2, -0.1, -0.1), ValueError),  # negative
        ((float("nan"), 0.5, 0.5), ValueError),
        ((0.6, "0.2", 0.2), TypeError),
        ((0.6, None, 0.2), TypeError),
        (0.6, TypeError),
        ("0.6", TypeError),
    ],
)
def test_fractions_argument(fractions: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="fractions"):
        ThetaGrid(fractions=fractions)  # type: ignore[arg-type]


def test_dataset_arguments() -> None:
    with pytest.raises(ValueError, match="split"):
        ThetaGridDataset(PAPER, "validation")
    with pytest.raises(TypeError, match="split"):
        ThetaGridDataset(PAPER, 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="grid"):
        ThetaGridDataset("paper", "train")  # type: ignore[arg-type]


def test_index_errors() -> None:
    ds = ThetaGridDataset(QUICK, "test")
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
        QUICK.target_seed(64, 0)
    with pytest.raises(IndexError, match="seed slot"):
        QUICK.reconstruction_seed(0, 2)
