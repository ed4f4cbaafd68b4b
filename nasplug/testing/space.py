"""A tiny search space for controller tests: a few decisions of any sizes, a supernet of a few Linear layers.

Each decision is a residual step ``h ← h + Σ gate · relu(op(h))`` over :data:`FEATURES` features, op
being the chosen choice's own Linear layer (a choice named ``none`` is the zero op), so the loss
depends on every gate and a test can see which op modules ran (``supernet.ops[key][choice]``). Every
non-``none`` child has the same size of autograd graph, so memory measured for K samples compares
with that of one. It runs through the real engine too (:class:`TinySpacePlugin`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import torch
from torch import nn

from nasplug import Architecture, DataShape, Decision, Genotype, SearchSpace, hookimpl

FEATURES = 4
NAME = "tiny"
DEFAULT_DECISIONS: dict[str, tuple[str, ...]] = {
    "first": ("none", "a", "b", "c"),
    "second": ("d", "e"),
    "third": ("none", "f", "g"),
}
"""Decisions of 4, 2 and 3 choices, two of them with the zero op: ragged, as real spaces are."""

SMALL_DATA = DataShape(num_classes=3, in_channels=1, input_size=2)
"""Inputs of 1×2×2 = :data:`FEATURES` values, 3 classes: what :func:`tiny_batch` draws."""


@attrs.frozen
class TinyGenotype(Genotype):
    """The chosen choice's name per decision."""

    space = NAME
    choices: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"space": self.space, "choices": dict(self.choices)}


class Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)


def _op(name: str) -> nn.Module:
    return Zero() if name == "none" else nn.Linear(FEATURES, FEATURES)


class TinySupernet(nn.Module):
    """A Linear stem to :data:`FEATURES`, one residual op per decision, a Linear head."""

    def __init__(self, data: DataShape, decisions: Sequence[Decision]) -> None:
        super().__init__()
        self.stem = nn.Linear(data.in_channels * data.input_size**2, FEATURES)
        self.ops = nn.ModuleDict({
            d.key: nn.ModuleList(_op(name) for name in d.choices) for d in decisions
        })
        self.head = nn.Linear(FEATURES, data.num_classes)

    def forward(self, x: torch.Tensor, arch: Architecture) -> torch.Tensor:
        h = torch.relu(self.stem(x.flatten(1)))
        for key, paths in arch.paths.items():
            h = h + sum(
                (path.gate if path.gate is not None else 1.0) * torch.relu(self.ops[key][path.choice](h))
                for path in paths
            )
        return self.head(h)


class TinySpace(SearchSpace):
    """The decisions of ``layouts["edge"]`` (default :data:`DEFAULT_DECISIONS`); argmax derivation.

    ``layouts`` maps each factorisation to its decisions (key → choice names), for controllers that
    pick one. ``last_scores`` holds the scores :meth:`genotype_from_scores` was last given, so a test
    sees exactly what a controller derived from.
    """

    name = NAME
    description = "a tiny space for controller tests (nasplug.testing)"

    def __init__(
        self,
        data: DataShape,
        options: Mapping[str, Any],
        layouts: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
    ) -> None:
        super().__init__(data, options)
        given = layouts or {"edge": DEFAULT_DECISIONS}
        self.layouts = {name: {key: tuple(choices) for key, choices in decisions.items()}
                        for name, decisions in given.items()}
        self.factorisations = tuple(self.layouts)
        self.last_scores: dict[str, list[float]] | None = None

    def decisions(self, factorisation: str = "edge") -> tuple[Decision, ...]:
        if factorisation not in self.layouts:
            raise ValueError(f"the tiny space has no factorisation {factorisation!r}")
        return tuple(Decision(key, choices) for key, choices in self.layouts[factorisation].items())

    def build_supernet(self, only: Architecture | None = None) -> nn.Module:
        return TinySupernet(self.data, self.decisions())

    def genotype_from_scores(self, scores: Mapping[str, Sequence[float]]) -> TinyGenotype:
        self.last_scores = {key: [float(v) for v in values] for key, values in scores.items()}
        names = {d.key: d.choices for f in self.factorisations for d in self.decisions(f)}
        best = {key: max(range(len(values)), key=values.__getitem__) for key, values in scores.items()}
        return TinyGenotype({key: names[key][index] for key, index in best.items()})

    def architecture_from_genotype(self, genotype: Genotype) -> Architecture:
        return Architecture.from_names(self.decisions(), genotype.choices)

    @classmethod
    def parse_genotype(cls, data: Mapping[str, Any], source: str) -> TinyGenotype:
        return TinyGenotype(dict(data["choices"]))

    @classmethod
    def published_genotypes(cls) -> Mapping[str, Genotype]:
        return {}

    def build_network(self, genotype: Genotype, options: Mapping[str, Any]) -> nn.Module:
        return self.build_supernet(self.architecture_from_genotype(genotype))

    @classmethod
    def describe(cls, genotype: Genotype) -> str:
        return "\n".join(f"{key}: {name}" for key, name in genotype.choices.items())


def tiny_space(
    decisions: Mapping[str, Sequence[str] | int] | None = None,
    *,
    data: DataShape = SMALL_DATA,
    factorisations: Mapping[str, Mapping[str, Sequence[str] | int]] | None = None,
) -> TinySpace:
    """A :class:`TinySpace`; a decision given as a count ``n`` gets the choices ``key-0`` … ``key-(n-1)``.

    ``factorisations`` adds further factorisations beside ``edge`` (``decisions``).
    """
    layouts = {"edge": _named(decisions or DEFAULT_DECISIONS)}
    layouts.update({name: _named(given) for name, given in (factorisations or {}).items()})
    return TinySpace(data, {}, layouts)


def _named(decisions: Mapping[str, Sequence[str] | int]) -> dict[str, tuple[str, ...]]:
    return {key: tuple(f"{key}-{i}" for i in range(c)) if isinstance(c, int) else tuple(c)
            for key, c in decisions.items()}


def all_architectures(space: SearchSpace) -> list[Architecture]:
    """Every single-path architecture of ``space`` (few enough only in a tiny space)."""
    decisions = space.decisions()
    return [
        Architecture.single_path(dict(zip((d.key for d in decisions), combination)))
        for combination in itertools.product(*(range(len(d)) for d in decisions))
    ]


class TinySpacePlugin:
    """Makes ``tiny`` a space of a run: ``hooks.pm.register(TinySpacePlugin(...), name="tiny-space")``.

    The engine then builds ``tiny_space(decisions, factorisations=...)`` for the run's data.
    """

    def __init__(
        self,
        decisions: Mapping[str, Sequence[str] | int] | None = None,
        factorisations: Mapping[str, Mapping[str, Sequence[str] | int]] | None = None,
    ) -> None:
        self.decisions = decisions
        self.factorisations = factorisations

    @hookimpl
    def list_search_spaces(self) -> Mapping[str, type[SearchSpace]]:
        return {NAME: TinySpace}

    @hookimpl
    def build_search_space(self, name: str, data: DataShape) -> SearchSpace | None:
        if name != NAME:
            return None
        return tiny_space(self.decisions, data=data, factorisations=self.factorisations)
