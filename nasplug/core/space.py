"""The contract every search space fulfils, whatever its shape.

A space knows its decisions, builds a weight-sharing supernet that runs any
:class:`~nasplug.core.architecture.Architecture`, turns per-decision scores into a genotype
(its derivation rule), and builds the standalone network of a genotype.
Controllers only ever see decisions, architectures and scores, so they work on
every space unchanged.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs
from torch import nn

from nasplug.core.architecture import Architecture, Decision
from nasplug.core.options import Option


@attrs.frozen
class DataShape:
    """What a space needs to know about the data: classes, channels, square input size."""

    num_classes: int
    in_channels: int
    input_size: int


class Genotype(abc.ABC):
    """A derived, discrete architecture of one space; saved as JSON, never ``eval``-ed."""

    space: ClassVar[str]

    @abc.abstractmethod
    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict that includes ``"space"`` so a file names its own space."""


class SearchSpace(abc.ABC):
    """Base class of a search space; built by the ``build_search_space`` hook.

    ``options`` declares the space's options (``-o key=value`` on the CLI,
    ``--layers``/``--channels`` where declared); ``network_options`` those of the
    standalone network built from a genotype (``nasplug train``/``info``);
    ``default_dataset`` the dataset ``nasplug info`` sizes networks for by default;
    ``training_recipe`` the recipe ``nasplug train`` follows for this space's genotypes when none is
    given (a benchmark's own protocol; None: the dataset's protocol, docs/train.md).
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    options: ClassVar[Mapping[str, Option]] = {}
    network_options: ClassVar[Mapping[str, Option]] = {}
    factorisations: ClassVar[tuple[str, ...]] = ("edge",)
    default_dataset: ClassVar[str] = "cifar10"
    training_recipe: ClassVar[str | None] = None

    def __init__(self, data: DataShape, options: Mapping[str, Any]) -> None:
        self.data = data
        self.config = dict(options)

    @abc.abstractmethod
    def decisions(self, factorisation: str = "edge") -> tuple[Decision, ...]:
        """The categorical choices of ``factorisation`` (one of ``factorisations``)."""

    @abc.abstractmethod
    def build_supernet(self, only: Architecture | None = None) -> nn.Module:
        """The shared-weight network; ``forward(x, arch)`` returns logits.

        Only the paths named in ``arch`` execute. With ``only`` given, the module
        holds just the ops of that architecture: the standalone child, with the
        same compute as the supernet running ``only`` (benchmarks compare them).
        """

    @abc.abstractmethod
    def genotype_from_scores(self, scores: Mapping[str, Sequence[float]]) -> Genotype:
        """The space's derivation rule from one score per choice per decision.

        Keys may be those of any factorisation this space offers.
        """

    @abc.abstractmethod
    def architecture_from_genotype(self, genotype: Genotype) -> Architecture:
        """The single-path architecture the supernet runs for ``genotype``."""

    @classmethod
    @abc.abstractmethod
    def parse_genotype(cls, data: Mapping[str, Any], source: str) -> Genotype:
        """Validate and build a genotype from JSON data; errors name ``source`` and the problem."""

    @classmethod
    @abc.abstractmethod
    def published_genotypes(cls) -> Mapping[str, Genotype]:
        """Genotypes from the literature, by name (for ``--genotype NAME``)."""

    @classmethod
    def genotype_from_text(cls, text: str) -> Genotype | None:
        """A genotype written in the space's own notation (a benchmark's cell string), or None when
        ``text`` is not in that notation; malformed text in it is an ArchitectureError. Lets
        ``--genotype``, ``show`` and ``info`` take such text directly. By default a space has none."""
        return None

    @classmethod
    def benchmark_results(cls, genotype: Genotype) -> Mapping[str, float]:
        """What a tabular benchmark knows of ``genotype``: readable name → number (accuracies, its
        percentile, costs). ``show`` and ``info`` print them and every search epoch records them for the
        derived genotype in ``history.jsonl``, where ``plot`` draws each name containing "accuracy".
        Empty (the default) for a space without a table."""
        return {}

    @abc.abstractmethod
    def build_network(self, genotype: Genotype, options: Mapping[str, Any]) -> nn.Module:
        """The standalone network of ``genotype`` with resolved ``network_options``.

        ``forward(x)`` returns logits in eval mode and ``(logits, aux_logits)`` in
        training mode when it has an auxiliary head (``aux_logits`` may be None).
        Parameters of an auxiliary head live under a submodule named ``auxiliary``.
        """

    @classmethod
    @abc.abstractmethod
    def describe(cls, genotype: Genotype) -> str:
        """A readable multi-line rendering of ``genotype`` for ``nasplug show``."""
