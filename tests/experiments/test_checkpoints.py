"""ckpt_path: corrupt or foreign files are refused early and clearly; resumed_from record."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import FAST_RUN

from experiments.checkpoints import read_resume_checkpoint

EXPECTED = re.escape("a Lightning checkpoint of this project")


def _lightning_like(**extra) -> dict:
    """The entries read_resume_checkpoint looks at, as the module's checkpoints hold them."""
    ckpt = {
        "state_dict": {"encoder.net.0.weight": torch.zeros(2, 2)},
        "epoch": 3,
        "global_step": 48,
        "pytorch-lightning_version": "2.6.6",
        "rng_state": {"torch": torch.get_rng_state()},
    }
    ckpt.update(extra)
    return {k: v for k, v in ckpt.items() if v is not None}


class Foreign:
    """A Python object: unpickling it is what weights_only loading refuses."""


def _write(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / "run" / "checkpoints" / f"{kind}.ckpt"
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "truncated":
        torch.save(_lightning_like(), path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "random_bytes":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "foreign_pickle":
        with open(path, "wb") as f:
            pickle.dump({"model": Foreign()}, f)
    elif kind == "foreign_torch_objects":
        torch.save({"model": torch.nn.Linear(2, 2)}, path)
    elif kind == "foreign_torch":
        torch.save({"weights": torch.zeros(3)}, path)
    elif kind == "tensor":
        torch.save(torch.zeros(3), path)
    elif kind == "other_program":
        torch.save(_lightning_like(rng_state=None), path)
    elif kind == "other_model":
        torch.save(_lightning_like(state_dict={"net.weight": torch.zeros(2)}), path)
    return path


@pytest.mark.parametrize(
    "kind, reason",
    [
        ("truncated", "not a complete torch.save file"),
        ("random_bytes", "not a complete torch.save file"),
        ("empty", "the file is empty"),
        ("foreign_pickle", "not a complete torch.save file"),
        ("foreign_torch_objects", "holds Python objects other than tensors"),
        ("foreign_torch", r"not a Lightning checkpoint \(no state_dict, epoch"),
        ("tensor", "holds a Tensor, not a checkpoint dict"),
        ("other_program", r"of another program \(no rng_state\)"),
        ("other_model", r"another model \(no encoder\.\* weights\)"),
        ("missing", "no such file"),
    ],
)
def test_bad_checkpoints_are_refused_naming_file_and_expectation(tmp_path, kind, reason):
    path = _write(tmp_path, kind)
    with pytest.raises(ValueError) as info:
        read_resume_checkpoint(path)
    msg = str(info.value)
    assert msg.startswith("ckpt_path: cannot read a Lightning checkpoint of this project (")
    assert f"from {str(path)!r}: " in msg and re.search(reason, msg), msg
    # Never the advice of torch's own message to load without weights_only.
    assert "weights_only" not in msg and info.value.__cause__ is None
    assert info.value.__suppress_context__ or info.value.__context__ is None


def test_directory_and_bad_type_are_refused(tmp_path):
    with pytest.raises(ValueError, match="it is a directory"):
        read_resume_checkpoint(tmp_path)
    with pytest.raises(TypeError, match="ckpt_path must be None or a file path"):
        read_resume_checkpoint(3)


def test_record_of_a_good_checkpoint(tmp_path):
    path = tmp_path / "run" / "checkpoints" / "last.ckpt"
    path.parent.mkdir(parents=True)
    torch.save(_lightning_like(), path)
    assert read_resume_checkpoint(path) == {
        "checkpoint": str(path.resolve()),
        "run_dir": str((tmp_path / "run").resolve()),
        "epoch": 3,
        "global_step": 48,
    }
    elsewhere = tmp_path / "saved.ckpt"
    torch.save(_lightning_like(), elsewhere)
    assert read_resume_checkpoint(elsewhere)["run_dir"] is None


@pytest.mark.parametrize("kind", ["random_bytes", "foreign_pickle"])
def test_train_refuses_bad_ckpt_path_before_building_anything(
    run_train, tmp_path, monkeypatch, kind
):
    import hydra

    built = []
    monkeypatch.setattr(hydra.utils, "instantiate", lambda *a, **k: built.append(a))
    path = _write(tmp_path, kind)
    pattern = rf"^ckpt_path: cannot read {EXPECTED}.*{re.escape(str(path))}"
    with pytest.raises(ValueError, match=pattern):
        run_train([*FAST_RUN, "loss=ploss", f"ckpt_path='{path}'"], tmp_path / "resumed")
    assert built == [] and not (tmp_path / "resumed" / "config.yaml").exists()
