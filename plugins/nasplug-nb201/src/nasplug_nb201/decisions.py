"""The decisions of the nas-bench-201 space (one per edge, over the five ops) and how an architecture maps
onto edges. Every cell of the network takes the same choice, as the benchmark's cells do."""

from __future__ import annotations

import torch

from nasplug import Architecture, ArchitectureError, Decision
from nasplug_nb201.genotype import EDGES
from nasplug_nb201.ops import OPS

Gate = torch.Tensor | float | None
EdgePaths = dict[tuple[int, int], list[tuple[str, Gate]]]
"""(node, source) → the (op, gate) pairs that edge runs; ``none`` never appears."""


def edge_key(node: int, source: int) -> str:
    return f"edge {node}<-{source}"


KEYS = {edge_key(node, source): (node, source) for node, source in EDGES}
DECISIONS = tuple(Decision(key, OPS) for key in KEYS)


def edge_paths(arch: Architecture) -> EdgePaths:
    """The ops each edge runs under ``arch``; unknown keys or choices are an ArchitectureError."""
    paths: EdgePaths = {}
    for key, entries in arch.paths.items():
        if key not in KEYS:
            raise ArchitectureError(
                f"{key!r} is not a nas-bench-201 decision; keys: {', '.join(KEYS)}"
            )
        for path in entries:
            if not 0 <= path.choice < len(OPS):
                raise ArchitectureError(f"choice {path.choice} out of range for {key!r} ({len(OPS)} choices)")
            op = OPS[path.choice]
            if op != "none":
                paths.setdefault(KEYS[key], []).append((op, path.gate))
    return paths
