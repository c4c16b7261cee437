"""Re-evaluate a checkpoint on the test split, with the run's config and more metrics.

    python scripts/evaluate.py ckpt_path=out/granular/scrapl/<run>/checkpoints/last.ckpt
    python scripts/evaluate.py ckpt_path=... metrics=jtfs_distance trainer.accelerator=gpu

The run's ``config.yaml`` (next to ``checkpoints/``) rebuilds the data and the module; the
metrics of ``configs/metrics/`` are interpolated against it (``${jtfs.J}`` is the run's) and
logged as ``test/<name>`` next to the module's own test metrics, into
``<run>/evaluations/<launch name>_<checkpoint>/metrics.csv``, which ``scripts/aggregate.py`` reads,
with one row per test example in ``test_examples.csv`` beside it. TR-808 runs:
``metrics=tr808`` gives their full set (MSS, JTFS distance, loudness / centroid / flatness,
FAD), on the audio with the training shift's pad removed. ``test_audio/`` beside them holds
the test sounds of the listening page (``scripts/listen.py``), for runs made before training
kept them (``callbacks=none``: not written).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from experiments.run_dirs import RUN_NAME_VARIABLE, new_run_name

log = logging.getLogger("evaluate")

for _name, _fn in (("parent_dir", lambda p: str(Path(p).parent)),
                   ("file_stem", lambda p: Path(p).stem)):  # fmt: skip
    if not OmegaConf.has_resolver(_name):
        OmegaConf.register_new_resolver(_name, _fn)


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Test ``cfg.ckpt_path``; returns the ``test/*`` metrics."""
    # Imported here, not above: --help answers without torch.
    import lightning.pytorch as pl

    from experiments.audio_io import atomic_output
    from experiments.callbacks.test_metrics import TestMetrics
    from experiments.console import silence_known_warnings, single_lightning_output

    silence_known_warnings()
    single_lightning_output()

    ckpt, run_dir = Path(cfg.ckpt_path), Path(cfg.run_dir)
    out_dir = Path(cfg.logger.save_dir)
    if not ckpt.is_file():
        raise FileNotFoundError(f"ckpt_path: no such file {str(ckpt)!r}")
    if not (run_dir / "config.yaml").is_file():
        raise FileNotFoundError(
            f"ckpt_path must lie in <run>/checkpoints/ of a run folder; no config.yaml in "
            f"{str(run_dir)!r} (set run_dir=... for another layout)"
        )
    run_cfg = OmegaConf.load(run_dir / "config.yaml")
    # The metrics are interpolated against the run's config (its synth length, its JTFS); they
    # replace the run's own (a TR-808 run has its test metrics there).
    OmegaConf.update(run_cfg, "metrics", OmegaConf.to_container(cfg.metrics), merge=False)
    extra = run_cfg.metrics
    metrics = {str(k): hydra.utils.instantiate(v) for k, v in extra.items() if v is not None}
    with atomic_output(out_dir / "config.yaml") as tmp:
        resolved = OmegaConf.to_container(extra, resolve=True)
        record = {"ckpt_path": str(ckpt), "run_dir": str(run_dir), "metrics": resolved}
        tmp.write_text(OmegaConf.to_yaml(OmegaConf.create(record)))

    pl.seed_everything(run_cfg.seed, workers=True)
    datamodule = hydra.utils.instantiate(run_cfg.data)
    module = hydra.utils.instantiate(run_cfg.module)
    trainer_cfg = OmegaConf.merge(run_cfg.trainer, cfg.trainer, {"default_root_dir": str(out_dir)})
    trainer: pl.Trainer = hydra.utils.instantiate(
        trainer_cfg,
        logger=hydra.utils.instantiate(cfg.logger),
        callbacks=[
            *([TestMetrics(metrics, out_dir / "test_examples.csv")] if metrics else []),
            *(hydra.utils.instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c),
        ],
    )
    trainer.test(module, datamodule=datamodule, ckpt_path=str(ckpt), verbose=False)
    results = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}
    summary = ", ".join(f"{k} = {v:.4g}" for k, v in sorted(results.items()))
    log.info(f"{ckpt}: {summary}")
    print(f"\n{summary}\nResults: {out_dir / 'metrics.csv'}")
    return results


@hydra.main(version_base="1.3", config_path="../configs", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    evaluate(cfg)


if __name__ == "__main__":
    os.environ[RUN_NAME_VARIABLE] = new_run_name()  # the evaluation folder's name
    main()
