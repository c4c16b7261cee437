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


# Per step, the project's code reads the device once per render: the synth's θ range check
# (target and reconstruction for the granular and chirplet synths, the reconstruction only
# for the TR-808's recorded targets). Seeds and shifts stay on the host, the grain onsets are
# checked there, P-Adam/P-SAGA and the optimizer step read nothing. The library (scrapl/)
# reads values only in branches taken for CPU inputs (its finite-input check, its exact
# modulus; on other devices torch.abs and no check): counted here, where every input is on the
# CPU, and listed.
LIBRARY_CPU_ONLY = ("scrapl/validation.py", "transforms/primitives.py")


@pytest.mark.parametrize(
    "experiment,renders",
    [("granular", 2), ("chirplet", 2), ("tr808_meso", 1)],
)
def test_host_reads_per_training_step(compose_train, experiment, renders):
    for step in _fit_counting(compose_train, [f"experiment={experiment}"]):
        sites = step.by_site()
        # Sites by file (line numbers move with every edit of the file).
        project = {site.rsplit(":", 1)[0]: n for site, n in sites.items() if "scrapl/" not in site}
        library = {site: n for site, n in sites.items() if "scrapl/" in site}
        assert project == {"__bool__ at experiments/synths/common.py": renders}, sites
        assert all(any(k in site for k in LIBRARY_CPU_ONLY) for site in library), sites


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
