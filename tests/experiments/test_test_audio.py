"""TestAudio and the test_audio/ folder: the kept sounds are the test loop's, written whole."""

from __future__ import annotations

import json

import hydra
import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from omegaconf import open_dict

from experiments.audio_io import read_wav
from experiments.callbacks.test_audio import TestAudio, kept_positions
from experiments.test_audio_store import MANIFEST, read_test_audio, write_test_audio


def test_kept_positions_spread_over_the_test_set() -> None:
    assert kept_positions(5, 16) == [0, 1, 2, 3, 4]
    assert kept_positions(0, 4) == []
    spread = kept_positions(56, 16)
    assert len(spread) == 16 and spread[0] == 0 and spread[-1] == 55
    gaps = np.diff(spread)
    assert gaps.min() >= 3 and gaps.max() <= 4  # 55 / 15 = 3.67 apart
    with pytest.raises(ValueError, match="n_examples"):
        kept_positions(10, 0)


def test_test_audio_arguments(tmp_path) -> None:
    with pytest.raises(TypeError, match="out_dir must be a non-empty path"):
        TestAudio("")
    with pytest.raises(ValueError, match="n_examples"):
        TestAudio(tmp_path, n_examples=0)
    with pytest.raises(ValueError, match="not 'theta_l1'"):
        TestAudio(tmp_path, distances={"theta_l1": torch.nn.L1Loss()})
    with pytest.raises(TypeError, match=r"distances\['d'\] must be a torch.nn.Module"):
        TestAudio(tmp_path, distances={"d": "l1"})


class CaptureTest(pl.Callback):
    """The compared audio and θ̂ of every example the test loop saw, by (point, seed)."""

    def __init__(self) -> None:
        self.seen = {}

    def on_test_start(self, trainer, pl_module) -> None:
        pl_module.keep_test_audio = True

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, *args) -> None:
        audio = pl_module.test_audio
        theta_hat = pl_module(pl_module.target(batch))
        for i in range(len(batch["seed"])):
            key = (int(batch["point"][i]), int(batch["seed"][i]))
            self.seen[key] = (audio["x"][i].clone(), audio["x_hat"][i].clone(), theta_hat[i])


def test_kept_sounds_are_those_of_the_test_loop(compose_train, tmp_path) -> None:
    """An untrained tiny model tested: every kept sound that the (drop_last) test loop also
    saw is the loop's target and reconstruction, θ̂ and θ L1 are the module's."""
    cfg = compose_train(["preset=tiny", "loss=mss_linear"])
    with open_dict(cfg):
        cfg.data.num_workers = 0
    torch.manual_seed(0)
    datamodule = hydra.utils.instantiate(cfg.data)
    module = hydra.utils.instantiate(cfg.module)
    capture = CaptureTest()
    kept = TestAudio(tmp_path / "test_audio", n_examples=7,
                     distances={"l1": torch.nn.L1Loss()})  # fmt: skip
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False,
                         enable_checkpointing=False, callbacks=[capture, kept])  # fmt: skip
    trainer.test(module, datamodule=datamodule, verbose=False)

    audio = read_test_audio(tmp_path / "test_audio")
    assert audio.sr == 8192 and audio.n_test == 7 and audio.theta_names == ("density", "slope")
    assert [e.position for e in audio.examples] == list(range(7))
    # The tiny test set has 7 examples; batch 4 with drop_last: the loop saw 4 of them.
    common = [e for e in audio.examples if (e.key[0][1], e.key[1][1]) in capture.seen]
    assert len(capture.seen) == 4 and len(common) == 4
    dataset = datamodule.test_dataset
    for e in common:
        x, x_hat, theta_hat = capture.seen[(e.key[0][1], e.key[1][1])]
        target, sr = read_wav(e.target)
        recon, _ = read_wav(e.recon)
        assert sr == 8192
        # The same computation in another batch: equal up to float32 rounding of batched
        # kernels (the CQT and CNN reduce over the batch-independent axes only).
        torch.testing.assert_close(target, x, atol=1e-6, rtol=0)
        torch.testing.assert_close(recon, x_hat, atol=1e-5 * float(x_hat.abs().max()), rtol=0)
        torch.testing.assert_close(torch.tensor(e.theta_hat), theta_hat, atol=1e-5, rtol=0)
        theta = dataset[e.position]["theta"]
        assert e.theta == pytest.approx(theta.tolist())
        expected = 1000 * (theta_hat - theta).abs().mean()
        assert e.errors["theta_l1"] == pytest.approx(float(expected), abs=1e-2)
        assert e.errors["l1"] == pytest.approx(float((x_hat - x).abs().mean()), rel=1e-4)


def _examples(n: int, value: float = 0.1) -> list[dict]:
    return [
        {"position": i, "key": {"index": i, "name": f"s{i}"}, "x": torch.full((1, 64), value),
         "x_hat": torch.full((1, 64), -value), "theta": None, "theta_hat": [], "errors": {}}
        for i in range(n)
    ]  # fmt: skip


def test_the_folder_is_replaced_whole(tmp_path) -> None:
    folder = tmp_path / "run" / "test_audio"
    write_test_audio(folder, 100, _examples(3), "a.ckpt", 3, [])
    write_test_audio(folder, 100, _examples(2, 0.2), "b.ckpt", 2, [])
    audio = read_test_audio(folder)
    assert audio.checkpoint == "b.ckpt" and len(audio.examples) == 2
    assert sorted(p.name for p in folder.iterdir()) == [
        "ex00_recon.wav", "ex00_target.wav", "ex01_recon.wav", "ex01_target.wav", MANIFEST,
    ]  # fmt: skip
    assert float(read_wav(audio.examples[0].target)[0].max()) == pytest.approx(0.2)
    # A failure half-way (the second sound is not finite) leaves the previous folder as it was.
    broken = _examples(2, 0.3)
    broken[1]["x_hat"] = torch.full((1, 64), float("nan"))
    with pytest.raises(ValueError, match="NaN"):
        write_test_audio(folder, 100, broken, "c.ckpt", 2, [])
    assert read_test_audio(folder).checkpoint == "b.ckpt"
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["test_audio"]


def test_broken_manifests_are_named(tmp_path) -> None:
    folder = tmp_path / "test_audio"
    with pytest.raises(FileNotFoundError, match="no examples.json in"):
        read_test_audio(folder)
    write_test_audio(folder, 100, _examples(2), "a.ckpt", 2, [])
    manifest = folder / MANIFEST
    data = json.loads(manifest.read_text())

    def broken(change, match):
        bad = json.loads(json.dumps(data))
        change(bad)
        manifest.write_text(json.dumps(bad))
        with pytest.raises(ValueError, match=match) as err:
            read_test_audio(folder)
        assert str(manifest) in str(err.value)

    broken(lambda d: d.update(format=7), "not a test-audio manifest of format 1")
    broken(lambda d: d["examples"][0].update(key={"a": 1.5}), "key must map names to ints")
    broken(lambda d: d["examples"][1].update(key=d["examples"][0]["key"]), "the same key")
    broken(lambda d: d["examples"][0].update(recon="../x.wav"), "must be a file name")
    broken(lambda d: d["examples"][0].update(errors={"e": "big"}), "finite numbers")
    broken(lambda d: d.update(examples=[]), "non-empty list")
    (folder / "ex01_target.wav").unlink()
    broken(lambda d: None, "ex01_target.wav is missing")
