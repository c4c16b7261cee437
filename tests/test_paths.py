"""Path sets and index order against the reference implementation's (tests/data)."""

import json
from pathlib import Path

import pytest

from scrapl.transforms.jtfs.filters import build_filterbank
from scrapl.transforms.jtfs.paths import enumerate_paths, kept_psi2

CONFIGS = json.loads((Path(__file__).parent / "data" / "reference_paths.json").read_text())[
    "configs"
]


@pytest.mark.parametrize("c", CONFIGS, ids=lambda c: f"N{c['N']}_J{c['J']}_Q{c['Q1']}-{c['Q2']}")
def test_path_set_matches_reference(c):
    T = c["T"] or 2 ** c["J"]
    F = c["F"] or 2 ** c["J_fr"]
    bank = build_filterbank(c["N"], c["J"], c["Q1"], c["Q2"], c["J_fr"], c["Q_fr"], T, F)
    paths = enumerate_paths(bank)
    assert len(bank.psi1) == c["n_psi1"]
    assert kept_psi2(bank) == c["kept_psi2_indices"]
    assert len(bank.psi_fr) == c["n_fr"]
    assert len(paths) == c["n_paths"] == c["n_psi2"] * c["n_fr"]
    # p = rank(n2) * n_fr_count + n_fr, psi2 ranked from the highest centre frequency.
    for p in paths:
        rank, n_fr = divmod(p.idx, c["n_fr"])
        assert (p.n2, p.n_fr) == (c["kept_psi2_indices"][rank], n_fr)
    xis = [bank.psi2[n2].xi for n2 in kept_psi2(bank)]
    assert xis == sorted(xis, reverse=True)


def test_psi2_rows_are_the_finer_first_order_prefix():
    bank = build_filterbank(4096, 6, 4, 1, 2, 1, 64, 4)
    for p in enumerate_paths(bank):
        j2 = bank.psi2[p.n2].j
        finer = [n1 for n1, f in enumerate(bank.psi1) if f.j < j2]
        assert finer == list(range(p.n1_max))
        assert p.spin == (0 if p.n_fr == 0 else (1 if p.n_fr <= 3 else -1))
