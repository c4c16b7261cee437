"""Host reads of device values (host syncs on a GPU) per training step, counted on the CPU
with experiments.benchmarks.host_reads: a handful per step, at known places."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch
from hydra.utils import instantiate

from experiments.benchmarks.host_reads import HostReads, StepHostReads
from experiments.data.split_datamodule import HOST_KEYS


class _Counter(StepHostReads, pl.Callback):
    pass


def _fit_counting(compose_train, overrides: list[str]) -> list[HostReads]:
    cfg = compose_train(
        [
            "preset=tiny", "loss=scrapl", *overrides, "callbacks=none",
            "++callbacks.theta_is=null", "logger=none", "trainer.enable_progress_bar=false",
            "+trainer.enable_checkpointing=false", "trainer.limit_val_batches=0",
            "trainer.max_steps=2", "+trainer.enable_model_summary=false",
        ]
    )  # fmt: skip
    pl.seed_everything(0)
    datamodule, module = instantiate(cfg.data), instantiate(cfg.module)
    counter = _Counter(HOST_KEYS)
    instantiate(cfg.trainer, callbacks=[counter], logger=False).fit(module, datamodule=datamodule)
    assert len(counter.per_step) == 2
    return counter.per_step


# Per step: the synth's θ range check (one read per render: target and reconstruction for
# the granular and chirplet synths, the reconstruction only for the TR-808's recorded
# targets) and the loss's finite-input check of its two inputs, which the library makes for
# CPU inputs only (a CUDA run does not make it; counted here, where every input is on the
# CPU). Nothing else: seeds and shifts stay on the host, the grain onsets are checked there,
# P-Adam/P-SAGA and the optimizer step read nothing.
@pytest.mark.parametrize(
    "experiment,renders",
    [("granular", 2), ("chirplet", 2), ("tr808_meso", 1)],
)
def test_host_reads_per_training_step(compose_train, experiment, renders):
    for step in _fit_counting(compose_train, [f"experiment={experiment}"]):
        sites = step.by_site()
        synth = sum(n for site, n in sites.items() if "common.py" in site)
        library = sum(n for site, n in sites.items() if "validation.py" in site)
        assert synth == renders and library == 2, sites
        assert len(step.reads) == renders + 2, sites


def test_host_reads_counts_device_reads_only():
    counter = HostReads()
    host = torch.arange(3)
    device = torch.ones(3)
    counter.track([device])
    with counter:
        derived = device * 2 + 1
        made_there = torch.zeros(2, device=device.device)
        int(host[0]), host.tolist()  # host tensors: free
        bool(derived.sum() > 0)
        derived.tolist()
        float(made_there[0])
        derived.cpu()
    assert [name for name, _ in counter.reads] == ["__bool__", "tolist", "__float__", "cpu"]
    assert all("test_host_syncs.py" in site for _, site in counter.reads)
