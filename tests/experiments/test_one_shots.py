"""Tests of one-shot folders: formats, rates, channels, split, drum types, every bad file."""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from experiments.data.hydrogen import find_hydrogen_tr808
from experiments.data.one_shot_dataset import split_indices
from experiments.data.one_shots import (
    BadAudioFile,
    BadAudioFiles,
    OneShotFolder,
    drum_type_from_name,
    find_audio_files,
    load_one_shot,
)

SR = 44100
N = 44100


def _tone(freq: float, sr: int, seconds: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    x = 0.5 * np.sin(2 * math.pi * freq * t) * np.exp(-3 * t)
    # channel c is x scaled by (1 - c / 2): the channel mean is x * (1 - (channels - 1) / 4)
    return np.stack([x * (1 - c / 2) for c in range(channels)], axis=1)


# name -> (sample rate, channels, seconds, format, subtype)
MIXED = {
    "kicks/BD0010.wav": (48000, 2, 0.5, "WAV", "PCM_16"),
    "kicks/808 Kick Long.flac": (22050, 1, 2.0, "FLAC", "PCM_24"),
    "snare_1.aiff": (44100, 1, 1.0, "AIFF", "PCM_24"),
    "hats/HiHat open.ogg": (32000, 2, 0.7, "OGG", "VORBIS"),
    "Toms/LT.wav": (96000, 3, 1.5, "WAV", "FLOAT"),
}


@pytest.fixture
def mixed_folder(tmp_path: Path) -> Path:
    root = tmp_path / "samples"
    for name, (sr, channels, seconds, fmt, subtype) in MIXED.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / name, _tone(1000.0, sr, seconds, channels), sr, format=fmt, subtype=subtype)
    (root / "README.txt").write_text("not a sound, and not an audio extension")
    return root


def _snapshot(root: Path) -> dict:
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


def test_mixed_rates_channels_and_formats(mixed_folder):
    before = _snapshot(mixed_folder)
    folder = OneShotFolder(mixed_folder, split=(3, 1, 1))
    assert _snapshot(mixed_folder) == before  # nothing written, nothing touched
    assert folder.names == sorted(MIXED)
    assert folder.audio.shape == (5, N) and folder.audio.dtype == torch.float32
    n = np.arange(N)
    for i, name in enumerate(folder.names):
        sr, channels, seconds, fmt, _ = MIXED[name]
        x = folder.audio[i].numpy()
        kept = min(int(seconds * SR), N)
        assert np.all(x[kept + 8 :] == 0.0), name  # zero padding after the file's end
        # mono = channel mean, at 44.1 kHz: the same decaying 1 kHz tone, sampled at 44.1 kHz
        expected = (1 - (channels - 1) / 4) * 0.5 * np.sin(2 * math.pi * 1000 * n / SR)
        expected *= np.exp(-3 * n / SR)
        middle = slice(2000, kept - 2000)
        if fmt == "OGG":  # lossy
            assert np.corrcoef(x[middle], expected[middle])[0, 1] > 0.99, name
        else:
            np.testing.assert_allclose(x[middle], expected[middle], atol=2e-4, err_msg=name)


def test_items_drum_types_and_shifts(mixed_folder):
    folder = OneShotFolder(mixed_folder, split=(3, 1, 1), split_seed=5)
    # sorted by path: "Toms/LT.wav" < "hats/..." (upper case first)
    assert folder.drum_types == ["tom", "hat", "kick", "kick", "snare"]
    train = folder.dataset("train", max_shift=2048, shift_seed=1)
    item = train[0]
    assert set(item) == {"x", "index", "name", "drum_type", "shift"}
    assert item["x"].shape == (1, N)
    assert torch.equal(item["x"][0], folder.audio[item["index"]])
    assert item["name"] == folder.names[item["index"]]
    shifts = [train[i]["shift"] for i in range(len(train))]
    assert shifts == [train[i]["shift"] for i in range(len(train))]  # fixed per item
    assert all(-2048 <= s <= 2048 for s in shifts) and any(s != 0 for s in shifts)
    assert [it["shift"] for it in folder.dataset("val")] == [0]
    with pytest.raises(ValueError, match="split must be one of"):
        folder.dataset("valid")


def test_split_is_the_sorted_names_shuffled_by_the_seed(mixed_folder):
    folder = OneShotFolder(mixed_folder, split=(2, 2, 1), split_seed=3)
    order = torch.randperm(5, generator=torch.Generator().manual_seed(3)).tolist()
    names = sorted(MIXED)
    assert [folder.names[i] for i in folder.splits["train"]] == [names[i] for i in order[:2]]
    assert [folder.names[i] for i in folder.splits["val"]] == [names[i] for i in order[2:4]]
    assert [folder.names[i] for i in folder.splits["test"]] == [names[i] for i in order[4:]]


def test_split_indices_sizes_and_fractions():
    paper = split_indices(681, (425, 128, 128), seed=0)
    assert [len(paper[k]) for k in ("train", "val", "test")] == [425, 128, 128]
    assert sorted(paper["train"] + paper["val"] + paper["test"]) == list(range(681))
    assert split_indices(681, (425, 128, 128), seed=0) == paper
    assert split_indices(681, (425, 128, 128), seed=1) != paper
    small = split_indices(16, (0.625, 0.1875, 0.1875), seed=0)
    assert [len(small[k]) for k in ("train", "val", "test")] == [10, 3, 3]
    partial = split_indices(10, (4, 2, 1), seed=0)
    assert len(set(partial["train"] + partial["val"] + partial["test"])) == 7


@pytest.mark.parametrize(
    ("split", "exc", "match"),
    [
        ((425, 128, 128), ValueError, "need 681 sounds but there are 16"),
        ((0.5, 0.5, 0.5), ValueError, "sum to <= 1"),
        ((0.9, 0.02, 0.08), ValueError, "leave the val split empty"),
        ((10, 3.0, 3), ValueError, "fractions must lie in"),
        ((10, 3), TypeError, "3 sizes"),
        ((True, 1, 1), TypeError, "3 sizes"),
        ((8, -1, 1), ValueError, r"split\[1\]"),
    ],
)
def test_bad_split(split, exc, match):
    with pytest.raises(exc, match=match):
        split_indices(16, split, seed=0)


@pytest.mark.parametrize(
    ("name", "drum"),
    [
        ("808_Kick_Long.flac", "kick"),
        ("BD0010.WAV", "kick"),
        ("bass drum 3.wav", "kick"),
        ("SD7550.wav", "snare"),
        ("Snare_2.flac", "snare"),
        ("Toms/LT10.wav", "tom"),
        ("808_Tom_Hi.flac", "tom"),
        ("HiHat closed.wav", "hat"),
        ("808_Hat_Pedal.flac", "hat"),
        ("OH_01.wav", "hat"),
        ("Kicks/001.wav", "kick"),
        ("808_Cymbal.flac", "cymbal"),
        ("808_Clap.flac", "clap"),
        ("808_Cowbell.flac", "percussion"),
        ("bottom_custom.wav", "unknown"),
        ("take 7.wav", "unknown"),
    ],
)
def test_drum_type_from_name(name, drum):
    assert drum_type_from_name(name) == drum


def test_file_list(mixed_folder, tmp_path):
    listing = tmp_path / "files.txt"
    listing.write_text("# the kicks\nkicks/BD0010.wav\n\nkicks/808 Kick Long.flac\n")
    folder = OneShotFolder(mixed_folder, file_list=listing, split=(1, 1, 0))
    assert folder.names == ["kicks/808 Kick Long.flac", "kicks/BD0010.wav"]
    as_sequence = OneShotFolder(mixed_folder, file_list=["snare_1.aiff"], split=(1, 0, 0))
    assert as_sequence.names == ["snare_1.aiff"]
    with pytest.raises(ValueError, match="more than once"):
        find_audio_files(mixed_folder, ["snare_1.aiff", "snare_1.aiff"])
    with pytest.raises(ValueError, match="README.txt' is not one of the extensions"):
        find_audio_files(mixed_folder, ["README.txt"])
    with pytest.raises(FileNotFoundError, match="file_list not found"):
        find_audio_files(mixed_folder, tmp_path / "missing.txt")
    with pytest.raises(BadAudioFile, match="gone.wav: file not found"):
        OneShotFolder(mixed_folder, file_list=["gone.wav", "snare_1.aiff"], split=(1, 0, 0))


def _write_bad_files(root: Path) -> dict[str, str]:
    """Every kind of unusable file, and the reason each is refused."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "text.wav").write_text("this is not audio")
    (root / "random.flac").write_bytes(np.random.default_rng(0).bytes(4000))
    sf.write(root / "empty.wav", np.zeros((0, 1)), SR)
    sf.write(root / "silent.wav", np.zeros(SR), SR)
    sf.write(root / "short.wav", _tone(500, SR, 0.01), SR)
    sf.write(root / "nan.wav", np.full(SR, np.nan), SR, subtype="FLOAT")
    return {
        "text.wav": "cannot be read as audio",
        "random.flac": "cannot be read as audio",
        "empty.wav": "has no samples",
        "silent.wav": "is silent",
        "short.wav": "is too short: 441 samples at 44100 Hz",
        "nan.wav": "NaN",
    }


def test_every_bad_file_raises_naming_it(tmp_path):
    reasons = _write_bad_files(tmp_path / "bad")
    for name, reason in reasons.items():
        with pytest.raises(BadAudioFile, match=f"{name}: .*{reason}") as info:
            load_one_shot(tmp_path / "bad" / name)
        assert info.value.path.name == name
        with pytest.raises(BadAudioFile, match=name):
            OneShotFolder(tmp_path / "bad", file_list=[name], split=(1, 0, 0))


def test_bad_files_reported_all_at_once_with_the_way_out(tmp_path):
    root = tmp_path / "mixed"
    reasons = _write_bad_files(root)
    sf.write(root / "kick.wav", _tone(60, SR, 1.0), SR)
    with pytest.raises(BadAudioFiles) as info:
        OneShotFolder(root, split=(1, 0, 0))
    message = str(info.value)
    assert message.startswith(f"{len(reasons)} of {len(reasons) + 1} files under {root}")
    for name, reason in reasons.items():
        assert re.search(f"{name}: .*{reason}", message), (name, message)
    assert "kick.wav" not in message
    assert message.endswith(
        "Leave them out with data.skip_bad=true (OneShotFolder(..., skip_bad=True))."
    )
    assert sorted(e.path.name for e in info.value.errors) == sorted(reasons)


def test_bad_files_skipped_and_counted(tmp_path, caplog):
    root = tmp_path / "mixed"
    reasons = _write_bad_files(root)
    sf.write(root / "kick.wav", _tone(60, SR, 1.0), SR)
    sf.write(root / "snare.wav", _tone(200, SR, 0.3), SR)
    before = _snapshot(root)
    with caplog.at_level(logging.WARNING, logger="experiments.data.one_shots"):
        folder = OneShotFolder(root, split=(1, 1, 0), skip_bad=True)
    assert folder.names == ["kick.wav", "snare.wav"]
    assert sorted(p.name for p in folder.skipped) == sorted(reasons)
    assert f"skipped {len(reasons)} of {len(reasons) + 2} files" in caplog.text
    assert _snapshot(root) == before


def test_unusable_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no audio here")
    with pytest.raises(ValueError, match="no audio files .* under .*empty"):
        OneShotFolder(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="root folder not found"):
        OneShotFolder(tmp_path / "nowhere")
    with pytest.raises(NotADirectoryError, match="must be a folder"):
        OneShotFolder(tmp_path / "empty" / "notes.txt")
    _write_bad_files(tmp_path / "all_bad")
    with pytest.raises(ValueError, match=r"no usable audio files .* \(6 skipped\)"):
        OneShotFolder(tmp_path / "all_bad", skip_bad=True)


def test_hydrogen_finder_message(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install --no-install-recommends"):
        find_hydrogen_tr808([tmp_path / "no_kit"])


HYDROGEN_FILES = [
    "808_Clap.flac", "808_Clave.flac", "808_Conga.flac", "808_Cowbell.flac", "808_Cymbal.flac",
    "808_Hat_Closed.flac", "808_Hat_Open.flac", "808_Hat_Pedal.flac", "808_Kick_Long.flac",
    "808_Kick_Short.flac", "808_Shaker.flac", "808_Snare_1.flac", "808_Snare_2.flac",
    "808_Tom_Hi.flac", "808_Tom_Low.flac", "808_Tom_Mid.flac",
]  # fmt: skip


def test_hydrogen_tr808_kit():
    try:
        root = find_hydrogen_tr808()
    except FileNotFoundError as err:
        pytest.skip(f"Debian's hydrogen-data is not installed ({err})")
    folder = OneShotFolder(root, split=(0.625, 0.1875, 0.1875))
    assert folder.names == HYDROGEN_FILES
    assert [len(folder.splits[k]) for k in ("train", "val", "test")] == [10, 3, 3]
    types = dict(zip(folder.names, folder.drum_types, strict=True))
    assert types["808_Kick_Short.flac"] == "kick" and types["808_Snare_1.flac"] == "snare"
    assert types["808_Tom_Low.flac"] == "tom" and types["808_Hat_Open.flac"] == "hat"
    assert folder.audio.abs().amax(dim=1).min() > 0.03
