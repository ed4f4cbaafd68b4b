"""A tiny search space for the EoiNAS tests: decisions of different sizes, a supernet that counts forwards.

Each decision is a residual step h ← h + gate·op(h) over 4 features, so the
loss depends on every gate and the tests can see exactly which op modules ran.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import torch
import torch.nn.functional as F
from torch import nn

from nasplug import Architecture, DataShape, Decision, Feedback, Genotype, SearchSpace

FEATURES = 4
CLASSES = 3


@attrs.frozen
class ArgmaxGenotype(Genotype):
    """The best choice name per decision."""

    space = "fake"
    choices: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"space": self.space, "choices": dict(self.choices)}


class Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)


class FakeSupernet(nn.Module):
    def __init__(self, decisions: Sequence[Decision]) -> None:
        super().__init__()
        self.ops = nn.ModuleDict(
            {
                d.key: nn.ModuleList(
                    Zero() if name == "none" else nn.Linear(FEATURES, FEATURES) for name in d.choices
                )
                for d in decisions
            }
        )
        self.head = nn.Linear(FEATURES, CLASSES)

    def forward(self, x: torch.Tensor, arch: Architecture) -> torch.Tensor:
        h = x
        for key, paths in arch.paths.items():
            h = h + sum(
                (path.gate if path.gate is not None else 1.0) * self.ops[key][path.choice](h)
                for path in paths
            )
        return self.head(h)


class FakeSpace(SearchSpace):
    name = "fake"
    last_scores: dict[str, list[float]] | None = None

    def decisions(self, factorisation: str = "edge") -> tuple[Decision, ...]:
        return (
            Decision("first", ("none", "a", "b", "c")),
            Decision("second", ("d", "e")),
            Decision("third", ("none", "f", "g")),
        )

    def build_supernet(self, only: Architecture | None = None) -> nn.Module:
        return FakeSupernet(self.decisions())

    def genotype_from_scores(self, scores: Mapping[str, Sequence[float]]) -> ArgmaxGenotype:
        self.last_scores = {key: list(values) for key, values in scores.items()}
        by_key = {d.key: d for d in self.decisions()}
        return ArgmaxGenotype(
            {key: by_key[key].choices[max(range(len(v)), key=v.__getitem__)] for key, v in scores.items()}
        )

    def architecture_from_genotype(self, genotype: Genotype) -> Architecture:
        return Architecture.from_names(self.decisions(), genotype.choices)

    @classmethod
    def parse_genotype(cls, data: Mapping[str, Any], source: str) -> ArgmaxGenotype:
        return ArgmaxGenotype(dict(data["choices"]))

    @classmethod
    def published_genotypes(cls) -> Mapping[str, Genotype]:
        return {}

    def build_network(self, genotype: Genotype, options: Mapping[str, Any]) -> nn.Module:
        return self.build_supernet(self.architecture_from_genotype(genotype))

    @classmethod
    def describe(cls, genotype: Genotype) -> str:
        return "\n".join(f"{key}: {name}" for key, name in genotype.choices.items())


def fake_space() -> FakeSpace:
    return FakeSpace(DataShape(CLASSES, 1, FEATURES), {})


def batch(seed: int = 0, size: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(size, FEATURES, generator=generator)
    return x, torch.randint(CLASSES, (size,), generator=generator)


def evaluate(supernet: nn.Module, arch: Architecture, seed: int = 0) -> Feedback:
    """What the engine reports for one sample: the loss keeps its graph when the gates need one."""
    x, y = batch(seed)
    logits = supernet(x, arch)
    loss = F.cross_entropy(logits, y)
    return Feedback(
        loss=loss.item(),
        accuracy=(logits.argmax(-1) == y).float().mean().item(),
        log_likelihood=-F.cross_entropy(logits, y, reduction="sum").item(),
        batch_size=len(y),
        loss_tensor=loss if arch.requires_grad() else None,
    )
