"""Runs grouped by experiment, loss and whatever else was chosen differently.

The key of a group is ``(experiment, loss, variant)``. ``variant`` holds the Hydra
config-group choices (``preset``, ``data``, ``trainer``, ...) that differ between runs of
one (experiment, loss): each such group is split by them, and every group of that
experiment is labelled with them, so that ``scrapl[preset=quick]`` is compared with
``mss_linear[preset=quick]``. The runs of a group must then have the same resolved config
up to bookkeeping (:data:`BOOKKEEPING`, the seed and values derived from the seed or from
the run's own folder); anything else is refused with :class:`MixedConfigError`, naming the
keys.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from experiments.analysis.chains import RunChain
from experiments.analysis.errors import MixedConfigError
from experiments.analysis.run_folder import Skipped

__all__ = ["BOOKKEEPING", "GroupKey", "RunGroup", "config_differences", "group_runs"]

# Config keys (and the keys below them) that do not change what a run computes.
BOOKKEEPING = (
    "seed",
    "ckpt_path",
    "resumed_from",
    "paths",
    "logger",
    "hydra",
    "trainer.enable_progress_bar",
)
# Config-group choices that never split groups.
IGNORED_CHOICES = ("experiment", "loss", "logger", "paths", "hydra")


@dataclass(frozen=True, order=True)
class GroupKey:
    experiment: str
    loss: str
    variant: tuple[tuple[str, str], ...] = ()

    @property
    def variant_label(self) -> str:
        """``"preset=quick,data=theta_grid"``, or ``""``."""
        return ",".join(f"{k}={v}" for k, v in self.variant)

    @property
    def label(self) -> str:
        """The loss, with the variant in brackets when there is one."""
        return f"{self.loss}[{self.variant_label}]" if self.variant else self.loss


@dataclass
class RunGroup:
    """The runs of one key, one per seed, sorted by seed."""

    key: GroupKey
    chains: list[RunChain]

    @property
    def seeds(self) -> list[int]:
        return [c.seed for c in self.chains]


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for k, v in node.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out or {prefix[:-1]: {}}
    return {prefix[:-1]: _freeze(node)}


def _freeze(node: Any) -> Any:
    """Lists (and what they hold) as hashable, comparable tuples."""
    if isinstance(node, dict):
        return tuple(sorted((str(k), _freeze(v)) for k, v in node.items()))
    if isinstance(node, list):
        return tuple(_freeze(v) for v in node)
    return node


def _comparable(chain: RunChain) -> dict[str, Any]:
    """The config of the chain's last run with bookkeeping removed and run folders masked."""
    run = chain.last
    folders = [str(run.path), str(run.config.get("paths", {}).get("output_dir", run.path))]
    out = {}
    for key, value in _flatten(run.config).items():
        if any(key == b or key.startswith(b + ".") for b in BOOKKEEPING):
            continue
        if isinstance(value, str):
            for folder in folders:
                value = value.replace(folder, "<run>")
        out[key] = value
    return out


def config_differences(chains: list[RunChain]) -> dict[str, Counter]:
    """Config keys whose values differ between the chains, with a count of each value.

    Keys whose value equals each run's own seed (``data.shuffle_seed: ${seed}`` resolved)
    are seed-derived and not differences.
    """
    configs = [_comparable(c) for c in chains]
    keys = sorted(set().union(*configs))
    out = {}
    for key in keys:
        values = [cfg.get(key, "<missing>") for cfg in configs]
        if len(set(map(repr, values))) == 1:
            continue
        if all(
            v == c.seed and not isinstance(v, bool) for v, c in zip(values, chains, strict=True)
        ):
            continue
        out[key] = Counter(map(repr, values))
    return out


def _variant_dims(chains: list[RunChain]) -> dict[str, list[str]]:
    """Per experiment, the choices that differ within some (experiment, loss)."""
    by_loss: dict[tuple[str, str], list[RunChain]] = defaultdict(list)
    for c in chains:
        by_loss[(c.last.experiment, c.last.loss)].append(c)
    dims: dict[str, set[str]] = defaultdict(set)
    for (experiment, _), members in by_loss.items():
        names = set().union(*(m.last.choices for m in members))
        for name in names:
            if name in IGNORED_CHOICES or name.startswith("hydra/"):
                continue
            if len({m.last.choices.get(name, "?") for m in members}) > 1:
                dims[experiment].add(name)
    return {e: sorted(d) for e, d in dims.items()}


def group_runs(chains: list[RunChain]) -> tuple[list[RunGroup], list[Skipped]]:
    """Group the chains; returns ``(groups sorted by key, skipped duplicates)``.

    Two complete runs of one group with the same seed: the later (by folder name) is kept.
    Raises :class:`MixedConfigError` listing every group whose runs differ in config.
    """
    dims = _variant_dims(chains)
    members: dict[GroupKey, list[RunChain]] = defaultdict(list)
    for c in chains:
        run = c.last
        variant = tuple((d, run.choices.get(d, "?")) for d in dims.get(run.experiment, []))
        members[GroupKey(run.experiment, run.loss, variant)].append(c)
    groups, skipped, problems = [], [], []
    for key in sorted(members):
        by_seed: dict[int, RunChain] = {}
        for c in sorted(members[key], key=lambda c: c.last.path.name):
            if c.seed in by_seed:
                old = by_seed[c.seed].last.path
                skipped.append(Skipped(old, f"seed {c.seed} again in {c.last.path}, kept"))
            by_seed[c.seed] = c
        kept = [by_seed[s] for s in sorted(by_seed)]
        diffs = config_differences(kept)
        if diffs:
            lines = [
                f"  {k}: " + ", ".join(f"{v} ({n} runs)" for v, n in counts.most_common())
                for k, counts in diffs.items()
            ]
            where = f"{key.experiment}/{key.label}"
            problems.append(f"{where}: the runs differ in\n" + "\n".join(lines))
        groups.append(RunGroup(key=key, chains=kept))
    if problems:
        raise MixedConfigError(
            "runs of different configurations under one (experiment, loss) key; aggregate "
            "them from separate folders, or choose the difference with a config group:\n"
            + "\n".join(problems)
        )
    return groups, skipped
