"""A cost model: what an architecture of a space costs (latency on a device, parameters, multiply-adds).

Cost models are plugins (hook ``list_cost_models``): nasplug ships the analytical ``params`` and
``madds`` and the ``proxyless-lut`` lookup table, the nas-bench-201 distribution one latency table per
device of the benchmark, and a third party adds a device by listing its own subclass. A search with
``--target`` scores every sample with the run's cost model (nasplug.search.target).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from nasplug.core.architecture import Architecture
from nasplug.core.errors import NasplugError
from nasplug.core.space import Genotype, SearchSpace

QUANTITIES = {"latency": "ms", "params": "M", "madds": "M"}
"""What a cost model measures, and the unit it reports that quantity in (ms; millions)."""


class CostError(NasplugError, ValueError):
    """A cost model cannot price an architecture, or a target does not fit the cost model."""


class CostModel:
    """Subclass this: declare ``quantity`` (a key of :data:`QUANTITIES`) and implement :meth:`cost`.

    ``argument`` is what follows the name on the command line (``--cost-model NAME:ARGUMENT``), e.g.
    the lookup table's file; a model that needs one says so in ``argument_help``, a model that takes
    none refuses one.
    """

    description: ClassVar[str] = ""
    quantity: ClassVar[str] = "latency"
    argument_help: ClassVar[str | None] = None
    """What the argument is, for a model that requires one (None: it takes none)."""

    def __init__(self, space: SearchSpace, argument: str | None = None) -> None:
        if self.quantity not in QUANTITIES:
            raise CostError(f"{type(self).__name__}.quantity is {self.quantity!r}; one of {', '.join(QUANTITIES)}")
        if self.argument_help is None and argument is not None:
            raise CostError(f"cost model {type(self).__name__} takes no argument, got {argument!r}")
        if self.argument_help is not None and not argument:
            raise CostError(f"cost model {type(self).__name__} needs NAME:ARGUMENT, the argument being "
                            f"{self.argument_help}")
        self.space = space
        self.argument = argument

    def recorded_argument(self) -> str | None:
        """The argument as the run's config.json stores it: a file resolved, with what a resume checks."""
        return self.argument

    def priced_as(self) -> dict[str, Any]:
        """What the costs stand for (a table's shapes, device, protocol), recorded with the run; {} if plain."""
        return {}

    @property
    def unit(self) -> str:
        return QUANTITIES[self.quantity]

    def cost(self, architecture: Architecture) -> float:
        """The cost, in :attr:`unit`, of a single-path architecture of ``self.space``."""
        raise NotImplementedError

    def genotype_cost(self, genotype: Genotype) -> float:
        """The cost of a derived genotype: that of its architecture in the space."""
        return self.cost(self.space.architecture_from_genotype(genotype))

    def decision_costs(self, architecture: Architecture) -> dict[str, list[float]]:
        """Per decision, the cost of ``architecture`` with that decision's choice swapped for each choice.

        The local, per-decision picture of the cost that a gradient-based architecture step needs
        (nasplug.search.target). This default prices every swap; an additive model overrides it.
        """
        current = architecture.choices()
        table = {}
        for decision in self.space.decisions():
            if len(current.get(decision.key, ())) != 1:
                continue
            table[decision.key] = [
                self.cost(Architecture.single_path({**_single(current), decision.key: choice}))
                for choice in range(len(decision))
            ]
        return table


def _single(choices: Mapping[str, Sequence[int]]) -> dict[str, int]:
    return {key: indices[0] for key, indices in choices.items() if len(indices) == 1}


def genotype_of(space: SearchSpace, architecture: Architecture) -> Genotype:
    """The genotype a single-path architecture stands for, by the space's own rule on one-hot scores."""
    chosen = _single(architecture.choices())
    return space.genotype_from_scores({
        decision.key: [1.0 if index == chosen.get(decision.key) else 0.0 for index in range(len(decision))]
        for decision in space.decisions()
    })
