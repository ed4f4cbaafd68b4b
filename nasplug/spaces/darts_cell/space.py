"""DartsCellSpace: the DARTS cell search space as a nasplug :class:`SearchSpace`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from nasplug.core.architecture import Architecture, ArchitectureError, Decision, GatedChoice
from nasplug.core.options import Option, OptionError, resolve_options
from nasplug.core.space import DataShape, Genotype, SearchSpace
from nasplug.spaces.darts_cell import derive, genotypes
from nasplug.spaces.darts_cell.cell import AUTO_REDUCTIONS, CELL_TYPES, NODES, reduction_layers
from nasplug.spaces.darts_cell.decisions import DECISIONS, edge_key
from nasplug.spaces.darts_cell.genotypes import ENTRIES_PER_NODE, DartsGenotype
from nasplug.spaces.darts_cell.network import EvalNetwork
from nasplug.spaces.darts_cell.ops import PRIMITIVES
from nasplug.spaces.darts_cell.supernet import SearchNetwork, child_ops

IMAGENET_STEM_FROM = 128
"""``stem=auto`` picks the ImageNet stem from this input size on."""


MAX_LAYERS = 1000
"""More cells than any DARTS network has (20 on CIFAR, 14 on ImageNet) by far; beyond it a build would hang
before its size could be estimated (the width needs no bound: nasplug.runs.network_size refuses what cannot fit)."""


class DartsCellSpace(SearchSpace):
    """The DARTS cell space: a normal and a reduction cell, 14 edges each, 8 ops per edge."""

    name = "darts-cell"
    description = "DARTS cells (normal + reduction, 14 edges × 8 ops); edge or PARSEC slot decisions"
    options = {
        "layers": Option(int, 8, "cells in the search network", bounds=(1, MAX_LAYERS)),
        "channels": Option(int, 16, "initial channels C of the search network"),
        "stem_multiplier": Option(int, 3, "the stem outputs stem_multiplier × C channels", bounds=(1, 16)),
        "reductions": Option(str, AUTO_REDUCTIONS, "reduction cells: 'auto' (1/3 and 2/3 of the depth) or "
                             "cell indices from 0, e.g. 1,2 (MdeNAS)"),
    }
    network_options = {
        "layers": Option(int, 20, "cells in the evaluation network (DARTS: 20 CIFAR, 14 ImageNet)",
                         bounds=(1, MAX_LAYERS)),
        "channels": Option(int, 36, "initial channels C (DARTS: 36 CIFAR, 48 ImageNet)"),
        "auxiliary": Option(bool, True, "auxiliary classifier at 2/3 depth (training only)"),
        "drop_path": Option(float, 0.2, "final drop-path probability (the trainer ramps it from 0)"),
        "stem": Option(
            str,
            "auto",
            f"cifar: 3×3 conv; imagenet: three stride-2 convs; mobile: two stride-2 convs (MdeNAS §5.4); "
            f"auto: imagenet from {IMAGENET_STEM_FROM} px",
            choices=("auto", "cifar", "imagenet", "mobile"),
        ),
        "reductions": Option(str, AUTO_REDUCTIONS, "reduction cells: 'auto' (1/3 and 2/3 of the depth) or "
                             "cell indices from 0, e.g. 1,2,6,10 (MdeNAS's ImageNet transfer, §5.4)"),
    }
    factorisations = ("edge", "slot")

    def __init__(self, data: DataShape, options: Mapping[str, Any]) -> None:
        super().__init__(data, resolve_options(self.options, options, f"space {self.name!r}"))
        _check_positive(self.config, ("layers", "channels", "stem_multiplier"), f"space {self.name!r}")
        try:
            self.reductions = reduction_layers(self.config["layers"], self.config["reductions"])
        except ValueError as exc:
            raise OptionError(f"option 'reductions' of space {self.name!r}: {exc}") from None

    def decisions(self, factorisation: str = "edge") -> tuple[Decision, ...]:
        if factorisation not in DECISIONS:
            raise ArchitectureError(
                f"space {self.name!r} has no factorisation {factorisation!r}; "
                f"it offers {', '.join(self.factorisations)}"
            )
        return DECISIONS[factorisation]

    def build_supernet(self, only: Architecture | None = None) -> nn.Module:
        return SearchNetwork(
            self.data.in_channels,
            self.data.num_classes,
            self.config["layers"],
            self.config["channels"],
            self.config["stem_multiplier"],
            edge_ops=None if only is None else child_ops(only),
            reductions=self.reductions,
        )

    def genotype_from_scores(self, scores: Mapping[str, Sequence[float]]) -> DartsGenotype:
        return derive.genotype_from_scores(scores)

    def architecture_from_genotype(self, genotype: Genotype) -> Architecture:
        """Edge keys: each edge the genotype uses runs its op(s); all other edges are absent."""
        genotype = _darts_genotype(genotype)
        paths: dict[str, list[GatedChoice]] = {}
        for cell in CELL_TYPES:
            entries, _ = genotype.cell(cell)
            for position, (op, source) in enumerate(entries):
                node = NODES[position // ENTRIES_PER_NODE]
                paths.setdefault(edge_key(cell, node, source), []).append(GatedChoice(PRIMITIVES.index(op)))
        return Architecture(paths)

    @classmethod
    def parse_genotype(cls, data: Mapping[str, Any], source: str) -> DartsGenotype:
        return DartsGenotype.from_json(data, source)

    @classmethod
    def published_genotypes(cls) -> Mapping[str, DartsGenotype]:
        return dict(genotypes.PUBLISHED)

    def build_network(self, genotype: Genotype, options: Mapping[str, Any]) -> nn.Module:
        genotype = _darts_genotype(genotype)
        owner = f"network of space {self.name!r}"
        config = resolve_options(self.network_options, options, owner)
        _check_positive(config, ("layers", "channels"), owner)
        if not 0.0 <= config["drop_path"] < 1.0:
            raise OptionError(f"option 'drop_path' must be in [0, 1), got {config['drop_path']}")
        stem = config["stem"]
        if stem == "auto":
            stem = "imagenet" if self.data.input_size >= IMAGENET_STEM_FROM else "cifar"
        try:
            reductions = reduction_layers(config["layers"], config["reductions"])
        except ValueError as exc:
            raise OptionError(f"option 'reductions' of {owner}: {exc}") from None
        return EvalNetwork(
            genotype,
            in_channels=self.data.in_channels,
            num_classes=self.data.num_classes,
            input_size=self.data.input_size,
            layers=config["layers"],
            channels=config["channels"],
            auxiliary=config["auxiliary"],
            drop_path_prob=config["drop_path"],
            stem=stem,
            reductions=reductions,
        )

    @classmethod
    def describe(cls, genotype: Genotype) -> str:
        return genotypes.describe(_darts_genotype(genotype))


def _darts_genotype(genotype: Genotype) -> DartsGenotype:
    if not isinstance(genotype, DartsGenotype):
        raise ArchitectureError(
            f"space 'darts-cell' needs a darts-cell genotype, got one of space {genotype.space!r}"
        )
    return genotype


def _check_positive(config: Mapping[str, Any], keys: Sequence[str], owner: str) -> None:
    for key in keys:
        if config[key] < 1:
            raise OptionError(f"option {key!r} of {owner} must be at least 1, got {config[key]}")
