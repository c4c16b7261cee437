"""Random-generator states in checkpoints: one entry per rank, restored on any device count."""

from __future__ import annotations

import logging
import random

import numpy as np
import pytest
import torch

import experiments.rng_state as rng
from experiments.rng_state import gather_rng_states, process_rng_state, restore_rng_state


def _draws() -> tuple:
    return (torch.rand(3), np.random.rand(3), random.random())  # noqa: NPY002


def _same(a: tuple, b: tuple) -> bool:
    return torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


@pytest.fixture
def fake_cuda(monkeypatch):
    """torch.cuda's generator calls on a machine without CUDA: each device's state is a
    tensor holding its index; set_rng_state records (state, device)."""
    calls = []
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda d: torch.tensor([d.index or 0]))
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda s, d: calls.append((int(s[0]), d)))
    return calls


def test_one_process_restores_exactly():
    saved = gather_rng_states()
    assert len(saved["per_rank"]) == 1 and "cuda" not in saved["per_rank"][0]
    first = _draws()
    restore_rng_state(saved, 0, torch.device("cpu"))
    assert _same(_draws(), first)


def test_rank_without_a_saved_entry_keeps_its_generators(caplog):
    saved = gather_rng_states()
    _draws()
    before = process_rng_state()
    with caplog.at_level(logging.INFO, logger=rng.__name__):
        restore_rng_state(saved, 1, torch.device("cpu"))  # 2 processes now, 1 saved
    assert "holds random-generator states for 1 process(es)" in caplog.text
    assert torch.equal(torch.get_rng_state(), before["torch"])


def test_each_rank_restores_its_own_entry_and_device(fake_cuda):
    entries = []
    for rank in range(2):
        torch.manual_seed(rank)
        entries.append(process_rng_state(torch.device("cuda", rank)))
    saved = {"per_rank": entries}
    restore_rng_state(saved, 1, torch.device("cuda", 1))
    assert torch.equal(torch.get_rng_state(), entries[1]["torch"])
    assert fake_cuda == [(1, torch.device("cuda", 1))]


def test_older_layout_with_more_cuda_states_than_devices(fake_cuda):
    # A 2-GPU process's flat entry (get_rng_state_all): resumed on 1 GPU it takes device 0's
    # state (set_rng_state_all would raise IndexError there), on rank 1 nothing.
    flat = process_rng_state()
    flat["cuda"] = [torch.tensor([0]), torch.tensor([1])]
    restore_rng_state(flat, 0, torch.device("cuda", 0))
    assert fake_cuda == [(0, torch.device("cuda", 0))]
    restore_rng_state(flat, 0, torch.device("cuda", 5))  # an index the list lacks: kept
    restore_rng_state(flat, 1, torch.device("cuda", 1))
    assert fake_cuda == [(0, torch.device("cuda", 0))]


def test_cpu_checkpoint_on_cuda_keeps_the_seeded_cuda_generator(fake_cuda, caplog):
    saved = gather_rng_states(torch.device("cpu"))
    with caplog.at_level(logging.INFO, logger=rng.__name__):
        restore_rng_state(saved, 0, torch.device("cuda", 0))
    assert fake_cuda == [] and "no saved CUDA generator state" in caplog.text


def test_checkpoint_states_load_weights_only(tmp_path, fake_cuda):
    saved = {"per_rank": [process_rng_state(torch.device("cuda", 0))]}
    torch.save(saved, tmp_path / "s.pt")
    back = torch.load(tmp_path / "s.pt", weights_only=True)
    first = _draws()
    restore_rng_state(back, 0, torch.device("cpu"))
    assert _same(_draws(), first)
