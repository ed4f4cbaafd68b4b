"""A tiny search space for the PARSEC tests: a few decisions, every choice costing the same compute.

Each decision is a residual step h ← h + op(h) with op one of its choices'
Linear layers, so every child has exactly the same size of autograd graph:
memory measured for K samples can be compared with that of one.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import torch
from torch import nn

from nasplug import Architecture, DataShape, Decision, Genotype, SearchSpace, hookimpl

FEATURES = 6


@attrs.frozen
class ModeGenotype(Genotype):
    """The best-scored choice name per decision."""

    space = "parsec-fake"
    choices: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"space": self.space, "choices": dict(self.choices)}


class FakeSupernet(nn.Module):
    def __init__(self, data: DataShape, decisions: Sequence[Decision]) -> None:
        super().__init__()
        self.stem = nn.Linear(data.in_channels * data.input_size**2, FEATURES)
        self.ops = nn.ModuleDict(
            {d.key: nn.ModuleList(nn.Linear(FEATURES, FEATURES) for _ in d.choices) for d in decisions}
        )
        self.head = nn.Linear(FEATURES, data.num_classes)

    def forward(self, x: torch.Tensor, arch: Architecture) -> torch.Tensor:
        h = torch.relu(self.stem(x.flatten(1)))
        for key, paths in arch.paths.items():
            h = h + sum(torch.relu(self.ops[key][path.choice](h)) for path in paths)
        return self.head(h)


class FakeSpace(SearchSpace):
    """Decisions ``first``/``second`` (3 choices each) and ``third`` (2); one factorisation."""

    name = "parsec-fake"
    sizes = {"first": 3, "second": 3, "third": 2}
    last_scores: dict[str, list[float]] | None = None

    def decisions(self, factorisation: str = "edge") -> tuple[Decision, ...]:
        assert factorisation in self.factorisations
        return tuple(
            Decision(key, [f"{key}-{i}" for i in range(size)]) for key, size in self.sizes.items()
        )

    def build_supernet(self, only: Architecture | None = None) -> nn.Module:
        return FakeSupernet(self.data, self.decisions())

    def genotype_from_scores(self, scores: Mapping[str, Sequence[float]]) -> ModeGenotype:
        self.last_scores = {key: list(values) for key, values in scores.items()}
        by_key = {d.key: d for d in self.decisions()}
        return ModeGenotype(
            {key: by_key[key].choices[max(range(len(v)), key=v.__getitem__)] for key, v in scores.items()}
        )

    def architecture_from_genotype(self, genotype: Genotype) -> Architecture:
        return Architecture.from_names(self.decisions(), genotype.choices)

    @classmethod
    def parse_genotype(cls, data: Mapping[str, Any], source: str) -> ModeGenotype:
        return ModeGenotype(dict(data["choices"]))

    @classmethod
    def published_genotypes(cls) -> Mapping[str, Genotype]:
        return {}

    def build_network(self, genotype: Genotype, options: Mapping[str, Any]) -> nn.Module:
        return self.build_supernet(self.architecture_from_genotype(genotype))

    @classmethod
    def describe(cls, genotype: Genotype) -> str:
        return "\n".join(f"{key}: {name}" for key, name in genotype.choices.items())


class EnumerableSpace(FakeSpace):
    """Two decisions of three choices: 9 architectures, few enough to enumerate."""

    sizes = {"first": 3, "second": 3}


class SlotSpace(FakeSpace):
    """Offers a second factorisation, ``slot``, with its own keys (as darts-cell does)."""

    factorisations = ("edge", "slot")

    def decisions(self, factorisation: str = "edge") -> tuple[Decision, ...]:
        if factorisation == "slot":
            return (Decision("node 2 slot 0", ("a<-0", "a<-1")), Decision("node 2 slot 1", ("a<-0", "a<-1")))
        return super().decisions(factorisation)


def make_space(cls: type[FakeSpace] = FakeSpace) -> FakeSpace:
    return cls(DataShape(10, 1, 8), {})


def all_architectures(space: FakeSpace) -> list[Architecture]:
    decisions = space.decisions()
    return [
        Architecture.single_path(dict(zip((d.key for d in decisions), combination)))
        for combination in itertools.product(*(range(len(d)) for d in decisions))
    ]


class FakeSpacePlugin:
    """Registers :class:`FakeSpace` with a run's plugin manager (``list_search_spaces``)."""

    @hookimpl
    def list_search_spaces(self) -> Mapping[str, type[SearchSpace]]:
        return {FakeSpace.name: FakeSpace}
