"""Nb201Space: the NAS-Bench-201 cell space as a nasplug :class:`SearchSpace`, looked up in the benchmark."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from nasplug import (
    Architecture,
    ArchitectureError,
    DataShape,
    Decision,
    Genotype,
    Option,
    OptionError,
    SearchSpace,
    resolve_options,
)
from nasplug_nb201.decisions import DECISIONS, KEYS, edge_key, edge_paths
from nasplug_nb201.genotype import EDGES, NODES, PUBLISHED, SPACE_NAME, Nb201Genotype
from nasplug_nb201.network import CellNetwork, SearchNetwork
from nasplug_nb201.ops import OPS
from nasplug_nb201.table import ACCURACIES, load_table

BENCHMARK_CELLS, BENCHMARK_CHANNELS = 5, 16
"""N and C of the networks the benchmark trained (paper §2.1); its numbers are for these."""


MAX_CELLS = 1000
"""Far beyond the benchmark's N = 5; a deeper network would take too long to build for its size to be estimated."""


class Nb201Space(SearchSpace):
    """NAS-Bench-201: one cell of 6 edges × 5 ops, repeated 3 × N times; 15,625 cells, all tabulated."""

    name = SPACE_NAME
    description = "NAS-Bench-201 cell (6 edges × 5 ops, 15,625 cells), every cell's accuracy tabulated"
    options = {
        "cells": Option(int, BENCHMARK_CELLS, "cells per stage N of the search network (benchmark: 5)",
                        bounds=(1, MAX_CELLS)),
        "channels": Option(int, BENCHMARK_CHANNELS, "channels C of the first stage (benchmark: 16)"),
    }
    network_options = {
        "cells": Option(int, BENCHMARK_CELLS, "cells per stage N (the benchmark trained N = 5)", bounds=(1, MAX_CELLS)),
        "channels": Option(int, BENCHMARK_CHANNELS, "channels C of the first stage (the benchmark trained C = 16)"),
    }
    factorisations = ("edge",)
    default_dataset = "cifar10"
    training_recipe = "nb201-cifar10-train"  # the protocol behind the table's accuracies

    def __init__(self, data: DataShape, options: Mapping[str, Any]) -> None:
        super().__init__(data, resolve_options(self.options, options, f"space {self.name!r}"))
        _check_positive(self.config, f"space {self.name!r}")

    def decisions(self, factorisation: str = "edge") -> tuple[Decision, ...]:
        if factorisation != "edge":
            raise ArchitectureError(f"space {self.name!r} has no factorisation {factorisation!r}; it offers edge")
        return DECISIONS

    def build_supernet(self, only: Architecture | None = None) -> nn.Module:
        edge_ops = None
        if only is not None:  # the standalone child: the one op of each edge ``only`` runs
            edge_ops = {}
            for edge, entries in edge_paths(only).items():
                if len(entries) > 1:
                    raise ArchitectureError(f"a standalone child runs one op per edge; {edge_key(*edge)!r} "
                                            f"has {len(entries)}")
                edge_ops[edge] = (entries[0][0],)
        return SearchNetwork(self.data.in_channels, self.data.num_classes, self.config["cells"],
                             self.config["channels"], edge_ops)

    def genotype_from_scores(self, scores: Mapping[str, Sequence[float]]) -> Nb201Genotype:
        """The benchmark's rule for every weight-sharing method: each edge takes its highest-scoring op,
        ``none`` included (ties to the earlier op)."""
        missing = [key for key in KEYS if key not in scores]
        unknown = [key for key in scores if key not in KEYS]
        if missing or unknown:
            raise ArchitectureError(
                f"score table for {self.name!r}: missing {missing or 'none'}, unknown {unknown or 'none'}"
            )
        ops = []
        for key in KEYS:
            try:
                row = [float(value) for value in scores[key]]
            except (TypeError, ValueError):
                row = []
            if len(row) != len(OPS) or any(math.isnan(value) for value in row):
                raise ArchitectureError(
                    f"score table for {self.name!r}: {key!r} needs {len(OPS)} numbers, got {scores[key]!r}"
                )
            ops.append(OPS[row.index(max(row))])
        return Nb201Genotype(tuple(ops))

    def architecture_from_genotype(self, genotype: Genotype) -> Architecture:
        ops = _nb201(genotype).ops
        return Architecture.single_path({edge_key(*edge): OPS.index(op) for edge, op in zip(EDGES, ops)})

    @classmethod
    def parse_genotype(cls, data: Mapping[str, Any], source: str) -> Nb201Genotype:
        return Nb201Genotype.from_json(data, source)

    @classmethod
    def genotype_from_text(cls, text: str) -> Nb201Genotype | None:
        """A cell in the benchmark's string notation (``|op~0|+|op~0|op~1|+|...|``); None for other text."""
        if "~" not in text or "|" not in text:
            return None
        return Nb201Genotype.from_string(text.strip(), "cell string")

    @classmethod
    def published_genotypes(cls) -> Mapping[str, Nb201Genotype]:
        return dict(PUBLISHED)

    def build_network(self, genotype: Genotype, options: Mapping[str, Any]) -> nn.Module:
        owner = f"network of space {self.name!r}"
        config = resolve_options(self.network_options, options, owner)
        _check_positive(config, owner)
        return CellNetwork(_nb201(genotype).ops, self.data.in_channels, self.data.num_classes,
                           config["cells"], config["channels"])

    @classmethod
    def describe(cls, genotype: Genotype) -> str:
        genotype = _nb201(genotype)
        lines = [genotype.to_string()]
        for node in NODES:
            terms = [f"{op}(node {source})" for (target, source), op in zip(EDGES, genotype.ops)
                     if target == node and op != "none"]
            lines.append(f"  node {node} = {' + '.join(terms) if terms else 'zero'}")
        return "\n".join(lines)

    @classmethod
    def benchmark_results(cls, genotype: Genotype) -> dict[str, float]:
        """The table's numbers for this cell (networks of N = 5, C = 16 trained 200 epochs, mean over seeds)."""
        genotype = _nb201(genotype)
        table = load_table()
        results = {f"{label} (%)": table.value(genotype, field) for field, label in ACCURACIES.items()}
        results["CIFAR-10 percentile in the space (%)"] = table.percentile(genotype)
        results["parameters, CIFAR-10 network (M)"] = table.value(genotype, "params_M")
        results["FLOPs, CIFAR-10 network (M)"] = table.value(genotype, "flops_M")
        return results


def _nb201(genotype: Genotype) -> Nb201Genotype:
    if not isinstance(genotype, Nb201Genotype):
        raise ArchitectureError(f"space {SPACE_NAME!r} needs a {SPACE_NAME} genotype, got one of {genotype.space!r}")
    return genotype


def _check_positive(config: Mapping[str, Any], owner: str) -> None:
    for key in ("cells", "channels"):
        if config[key] < 1:
            raise OptionError(f"option {key!r} of {owner} must be at least 1, got {config[key]}")
