"""Files the package reads (probs.pt, warmup values): corrupt or foreign ones are refused with
the file and what was expected named, never with advice to load unsafely."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest
import torch

from scrapl import SCRAPLLoss
from scrapl.validation import load_torch_file

SMALL = dict(shape=1024, J=4, Q1=2, Q2=1, J_fr=2, Q_fr=1)  # 14 paths


class Foreign:
    """A Python object: unpickling it is what weights_only loading refuses."""


def _write(path, kind: str):
    if kind == "truncated":
        torch.save(torch.full((14,), 1 / 14), path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "random_bytes":
        path.write_bytes(np.random.default_rng(1).bytes(512))
    elif kind == "foreign_pickle":
        with open(path, "wb") as f:
            pickle.dump(Foreign(), f)
    elif kind == "foreign_torch_objects":
        torch.save({"probs": torch.ones(14), "model": torch.nn.Linear(2, 2)}, path)
    return path


KINDS = {
    "truncated": "not a complete torch.save file",
    "random_bytes": "not a complete torch.save file",
    "foreign_pickle": "not a complete torch.save file",
    "foreign_torch_objects": "holds Python objects other than tensors and plain containers",
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_load_torch_file_names_file_expectation_and_reason(tmp_path, kind):
    path = _write(tmp_path / "f.pt", kind)
    with pytest.raises(ValueError) as info:
        load_torch_file(path, "the thing expected")
    msg = str(info.value)
    assert msg.startswith(f"cannot read the thing expected from {str(path)!r}: ")
    assert KINDS[kind] in msg
    assert "weights_only" not in msg and "arbitrary code execution" not in msg
    assert info.value.__cause__ is None and info.value.__context__ is None


@pytest.mark.parametrize("kind", list(KINDS))
def test_corrupt_probs_path_is_refused(tmp_path, kind):
    path = _write(tmp_path / "probs.pt", kind)
    pattern = rf"^cannot read path probabilities from {re.escape(repr(str(path)))}: "
    with pytest.raises(ValueError, match=pattern) as info:
        SCRAPLLoss(**SMALL, probs_path=path)
    assert "weights_only" not in str(info.value)
    loss = SCRAPLLoss(**SMALL)
    with pytest.raises(ValueError, match=pattern):
        loss.load_probs(path)
    assert torch.equal(loss.probs, torch.full((14,), 1 / 14, dtype=torch.float64))


def test_a_good_file_loads(tmp_path):
    torch.save({"a": torch.arange(3), "b": [1, "x"]}, tmp_path / "ok.pt")
    obj = load_torch_file(tmp_path / "ok.pt", "anything")
    assert torch.equal(obj["a"], torch.arange(3)) and obj["b"] == [1, "x"]
