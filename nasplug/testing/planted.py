"""A planted-optimum problem: a tiny space and dataset whose best architecture is known by construction.

Each of the ``decisions`` reads its own input channel, a noisy copy of the
label's prototype. Exactly one choice per decision (the *planted* one, drawn
from the seed) passes the channel to its linear head; every other choice
first averages the channel over its pixels, which leaves nothing class
specific (the prototypes differ only in where their mass sits, not in their
mean). The logits are the sum of the heads, so a path's accuracy grows with
the number of planted choices it takes and the best genotype is the planted
one. A controller that learns from the search batches must recover it; one
whose update has the wrong sign, reads the wrong batch or loses its state on
resume does not.

Use :func:`planted_plugin` to register the space with a run's hooks and
:func:`planted_data` for the matching :class:`~nasplug.data.DataBundle`, then
pass both to :func:`nasplug.search.run_search` (``hooks=``, ``data=``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import torch
from torch import nn

from nasplug import hookimpl
from nasplug.core.architecture import Architecture, ArchitectureError, Decision
from nasplug.data.bundle import DataBundle, TensorImages
from nasplug.core.options import Option
from nasplug.plugin import Hooks
from nasplug.core.space import DataShape, Genotype, SearchSpace

SPACE_NAME = "planted"
CLASSES = 4
IMAGE_SIZE = 2
"""Each channel is 2×2: four pixels, one per class prototype."""


@attrs.frozen
class PlantedProblem:
    """The planted choices and the data's difficulty; ``seed`` fixes both the choices and the images."""

    decisions: int = 6
    choices: int = 4
    seed: int = 0
    signal: float = 1.0
    """Prototype height against unit noise: low enough that one channel alone is a weak classifier."""

    def planted(self) -> tuple[int, ...]:
        """The index of the signal-carrying choice of each decision."""
        generator = torch.Generator().manual_seed(self.seed)
        return tuple(torch.randint(self.choices, (self.decisions,), generator=generator).tolist())


def decision_key(index: int) -> str:
    return f"decision {index}"


@attrs.frozen
class PlantedGenotype(Genotype):
    """One chosen index per decision."""

    space = SPACE_NAME
    chosen: tuple[int, ...] = attrs.field(converter=tuple)

    def to_json(self) -> dict[str, Any]:
        return {"space": SPACE_NAME, "chosen": list(self.chosen)}


class PlantedSupernet(nn.Module):
    """One linear head per (decision, choice); non-planted choices see the channel's mean only."""

    def __init__(self, problem: PlantedProblem) -> None:
        super().__init__()
        pixels = IMAGE_SIZE * IMAGE_SIZE
        self.planted = problem.planted()
        self.heads = nn.ModuleList(
            nn.ModuleList(nn.Linear(pixels, CLASSES) for _ in range(problem.choices))
            for _ in range(problem.decisions)
        )

    def forward(self, x: torch.Tensor, arch: Architecture) -> torch.Tensor:
        channels = x.flatten(2)  # N × decisions × pixels
        logits = channels.new_zeros(len(x), CLASSES)
        for decision, heads in enumerate(self.heads):
            signal = channels[:, decision]
            destroyed = signal.mean(1, keepdim=True).expand_as(signal)
            for path in arch.paths.get(decision_key(decision), ()):
                out = heads[path.choice](signal if path.choice == self.planted[decision] else destroyed)
                logits = logits + (out if path.gate is None else out * path.gate)
        return logits


class PlantedSpace(SearchSpace):
    """The planted problem as a search space (see the module docstring)."""

    name = SPACE_NAME
    description = "planted-optimum test problem: one signal-carrying choice per decision"
    options = {
        "decisions": Option(int, PlantedProblem.decisions, "number of decisions"),
        "choices": Option(int, PlantedProblem.choices, "choices per decision"),
        "seed": Option(int, PlantedProblem.seed, "seed of the planted choices (and of planted_data)"),
    }
    default_dataset = SPACE_NAME

    def __init__(self, data: DataShape, options: Mapping[str, Any]) -> None:
        super().__init__(data, options)
        self.problem = PlantedProblem(self.config["decisions"], self.config["choices"], self.config["seed"])
        if data.in_channels != self.problem.decisions:
            raise ArchitectureError(
                f"space {SPACE_NAME!r} needs one input channel per decision "
                f"({self.problem.decisions}), the data has {data.in_channels}"
            )

    def decisions(self, factorisation: str = "edge") -> tuple[Decision, ...]:
        labels = tuple(f"choice {index}" for index in range(self.problem.choices))
        return tuple(Decision(decision_key(index), labels) for index in range(self.problem.decisions))

    def build_supernet(self, only: Architecture | None = None) -> nn.Module:
        return PlantedSupernet(self.problem)

    def genotype_from_scores(self, scores: Mapping[str, Sequence[float]]) -> PlantedGenotype:
        return PlantedGenotype(
            int(torch.tensor(scores[decision_key(index)]).argmax()) for index in range(self.problem.decisions)
        )

    def architecture_from_genotype(self, genotype: Genotype) -> Architecture:
        if not isinstance(genotype, PlantedGenotype):
            raise ArchitectureError(f"space {SPACE_NAME!r} needs a planted genotype, got {genotype.space!r}")
        return Architecture.single_path({decision_key(i): c for i, c in enumerate(genotype.chosen)})

    @classmethod
    def parse_genotype(cls, data: Mapping[str, Any], source: str) -> PlantedGenotype:
        chosen = data.get("chosen")
        if not isinstance(chosen, list) or not all(isinstance(c, int) for c in chosen):
            raise ArchitectureError(f"{source}: a planted genotype needs 'chosen', a list of integers")
        return PlantedGenotype(chosen)

    @classmethod
    def published_genotypes(cls) -> Mapping[str, Genotype]:
        return {}

    def build_network(self, genotype: Genotype, options: Mapping[str, Any]) -> nn.Module:
        raise ArchitectureError(f"space {SPACE_NAME!r} is a test problem; it has no standalone network")

    @classmethod
    def describe(cls, genotype: Genotype) -> str:
        return " ".join(f"{decision_key(i)}: {c}" for i, c in enumerate(getattr(genotype, "chosen", ())))


class _PlantedPlugin:
    @hookimpl
    def list_search_spaces(self) -> Mapping[str, type[SearchSpace]]:
        return {SPACE_NAME: PlantedSpace}


def planted_plugin(hooks: Hooks) -> Hooks:
    """Register the planted space with ``hooks`` (once) and return them."""
    if hooks.pm.get_plugin(SPACE_NAME) is None:
        hooks.pm.register(_PlantedPlugin(), name=SPACE_NAME)
    return hooks


def planted_data(problem: PlantedProblem, images: int = 1024) -> DataBundle:
    """``images`` training and ``images // 4`` test images: channel d = prototype of the label + N(0, 1)."""
    generator = torch.Generator().manual_seed(problem.seed + 1)

    def draw(count: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.randint(CLASSES, (count,), generator=generator)
        prototypes = problem.signal * nn.functional.one_hot(labels, CLASSES).float()  # one pixel per class
        noise = torch.randn(count, problem.decisions, CLASSES, generator=generator)
        pixels = prototypes.unsqueeze(1) + noise
        return pixels.view(count, problem.decisions, IMAGE_SIZE, IMAGE_SIZE), labels

    classes = [str(label) for label in range(CLASSES)]
    train, test = draw(images), draw(images // 4)
    return DataBundle(
        name=SPACE_NAME,
        train=TensorImages(*train, classes),
        test=TensorImages(*test, classes),
        shape=DataShape(num_classes=CLASSES, in_channels=problem.decisions, input_size=IMAGE_SIZE),
    )


def space_options(problem: PlantedProblem) -> dict[str, int]:
    """The ``space_options`` of a SearchConfig that builds ``problem``'s space."""
    return {"decisions": problem.decisions, "choices": problem.choices, "seed": problem.seed}


def recover_fraction(genotype: Genotype, problem: PlantedProblem) -> float:
    """The share of decisions on which ``genotype`` takes the planted choice."""
    if not isinstance(genotype, PlantedGenotype):
        raise ArchitectureError(f"expected a planted genotype, got one of space {genotype.space!r}")
    hits = sum(chosen == planted for chosen, planted in zip(genotype.chosen, problem.planted()))
    return hits / problem.decisions
