"""Runs grouped by experiment, loss and whatever else was chosen differently.

The key of a group is ``(experiment, loss, variant)``. ``variant`` holds the Hydra
config-group choices (``preset``, ``data``, ``trainer``, ...) that differ between runs of
one (experiment, loss): each such group is split by them, and every group of that
experiment is labelled with them, so that ``scrapl[preset=quick]`` is compared with
``mss_linear[preset=quick]``. The runs of a group must then have the same resolved config
up to bookkeeping (:data:`BOOKKEEPING`, the seed and values derived from the seed, from
the run's own folder or from the output root ``paths.out_dir``, such as the θ-IS cache
folder of a run moved from one root to another); anything else is refused with
:class:`MixedConfigError`, naming the keys.

A config that gained keys after some runs were made (a new option whose default reproduces
the earlier behaviour) would split those runs from later ones. :class:`OlderRuns` names, for
such keys and config-group choices, the value a run that lacks them is read with; it is
given explicitly (e.g. in a results spec), so every such reading is visible beside the
table.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from experiments.analysis.chains import RunChain
from experiments.analysis.errors import MixedConfigError
from experiments.analysis.run_folder import Skipped
from experiments.run_dirs import OUTPUT_ONLY_KEYS, RESTART_KEYS

__all__ = [
    "BOOKKEEPING",
    "GroupKey",
    "OlderRuns",
    "RunGroup",
    "config_differences",
    "group_runs",
]

# Config keys (and the keys below them) that do not change what a run computes.
# Where a run came from and its restarts (RESTART_KEYS: resumed_from, resumed_in_place, ...),
# and what decides only which files are written (OUTPUT_ONLY_KEYS: loggers, when last.ckpt
# is written, ...), as for a run continuing in its own folder (experiments.run_dirs).
BOOKKEEPING = (
    "seed",
    "ckpt_path",
    "paths",
    "hydra",
    *RESTART_KEYS,
    *OUTPUT_ONLY_KEYS,
)
# Config-group choices that never split groups.
IGNORED_CHOICES = ("experiment", "loss", "logger", "paths", "hydra")


@dataclass(frozen=True)
class OlderRuns:
    """Values for keys a run's config lacks because the run predates them.

    Args:
        config: dotted config key -> value (``{"module.pad": None, "metrics": {}}``), used
            for a run whose resolved config has neither the key nor anything below it.
        choices: config group -> choice (``{"metrics": "none"}``), used for a run whose
            Hydra choices lack the group.
    """

    config: Mapping[str, Any] = field(default_factory=dict)
    choices: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_spec(cls, spec: object) -> OlderRuns:
        """From ``{"config": {...}, "choices": {...}}`` (both optional), or ``None``."""
        if spec is None:
            return cls()
        if not isinstance(spec, Mapping) or set(spec) - {"config", "choices"}:
            raise ValueError(
                "older_runs must be a mapping with the keys 'config' and/or 'choices', "
                f"got {spec!r}"
            )
        config, choices = spec.get("config") or {}, spec.get("choices") or {}
        if not isinstance(config, Mapping) or not all(isinstance(k, str) for k in config):
            raise ValueError(f"older_runs.config must map dotted keys to values, got {config!r}")
        if not isinstance(choices, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in choices.items()
        ):
            raise ValueError(f"older_runs.choices must map groups to choices, got {choices!r}")
        return cls(dict(config), dict(choices))

    @classmethod
    def from_file(cls, path: str | os.PathLike | None) -> OlderRuns:
        """From a YAML file holding the mapping of :meth:`from_spec` (``None``: no values)."""
        if path is None:
            return cls()
        try:
            spec = yaml.safe_load(Path(path).read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"older_runs file {str(path)!r} does not exist") from None
        except yaml.YAMLError as err:
            raise ValueError(f"older_runs file {str(path)!r} is not YAML: {err}") from None
        return cls.from_spec(spec)

    def fill_config(self, flat: dict[str, Any]) -> dict[str, Any]:
        out = dict(flat)
        for key, value in self.config.items():
            if not any(k == key or k.startswith(key + ".") for k in flat):
                out.update(_flatten(value, f"{key}."))
        return out

    def fill_choices(self, choices: Mapping[str, str]) -> dict[str, str]:
        return {**self.choices, **choices}


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


def _comparable(chain: RunChain, older: OlderRuns) -> dict[str, Any]:
    """The config of the chain's last run with bookkeeping removed and run folders masked."""
    run = chain.last
    # Longest first: the run's folder as read may be a part of the folder it was written to
    # (a relative path, or one reached through a link).
    written = str(run.config.get("paths", {}).get("output_dir", run.path))
    folders = sorted({str(run.path), str(run.path.resolve()), written}, key=len, reverse=True)
    root = run.config.get("paths", {}).get("out_dir")
    out = {}
    for key, value in older.fill_config(_flatten(run.config)).items():
        if any(key == b or key.startswith(b + ".") for b in BOOKKEEPING):
            continue
        if isinstance(value, str):
            for folder in folders:
                value = value.replace(folder, "<run>")
            if isinstance(root, str) and root and value.startswith(root.rstrip("/") + "/"):
                value = "<out_dir>" + value[len(root.rstrip("/")) :]
        out[key] = value
    return out


def config_differences(
    chains: list[RunChain], older: OlderRuns | None = None
) -> dict[str, Counter]:
    """Config keys whose values differ between the chains, with a count of each value.

    Keys whose value equals each run's own seed (``data.shuffle_seed: ${seed}`` resolved)
    are seed-derived and not differences. ``older`` fills keys that older runs lack.
    """
    older = older or OlderRuns()
    configs = [_comparable(c, older) for c in chains]
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


def _variant_dims(chains: list[RunChain], older: OlderRuns) -> dict[str, list[str]]:
    """Per experiment, the choices that differ within some (experiment, loss)."""
    by_loss: dict[tuple[str, str], list[RunChain]] = defaultdict(list)
    for c in chains:
        by_loss[(c.last.experiment, c.last.loss)].append(c)
    dims: dict[str, set[str]] = defaultdict(set)
    for (experiment, _), members in by_loss.items():
        choices = [older.fill_choices(m.last.choices) for m in members]
        names = set().union(*choices)
        for name in names:
            if name in IGNORED_CHOICES or name.startswith("hydra/"):
                continue
            if len({c.get(name, "?") for c in choices}) > 1:
                dims[experiment].add(name)
    return {e: sorted(d) for e, d in dims.items()}


def group_runs(
    chains: list[RunChain], older: OlderRuns | None = None
) -> tuple[list[RunGroup], list[Skipped]]:
    """Group the chains; returns ``(groups sorted by key, skipped duplicates)``.

    Two complete runs of one group with the same seed: the later (by folder name) is kept.
    ``older`` fills the keys and choices that older runs lack (see :class:`OlderRuns`).
    Raises :class:`MixedConfigError` listing every group whose runs differ in config.
    """
    older = older or OlderRuns()
    dims = _variant_dims(chains, older)
    members: dict[GroupKey, list[RunChain]] = defaultdict(list)
    for c in chains:
        run = c.last
        choices = older.fill_choices(run.choices)
        variant = tuple((d, choices.get(d, "?")) for d in dims.get(run.experiment, []))
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
        diffs = config_differences(kept, older)
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
