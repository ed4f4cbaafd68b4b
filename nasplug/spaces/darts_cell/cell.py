"""The fixed shape of a DARTS cell and of the networks stacked from cells.

A cell has two inputs (indices 0 and 1: the outputs of the cells k-2 and k-1)
and four intermediate nodes (indices 2..5); node ``i`` may read any index below
``i``. This is the indexing of the DARTS genotype format.
"""

from __future__ import annotations

CELL_TYPES = ("normal", "reduce")
CELL_INPUTS = 2
NODES = (2, 3, 4, 5)
DEFAULT_CONCAT = NODES
"""A cell's output is the concatenation of its intermediate nodes."""


def reduction_layers(layers: int) -> frozenset[int]:
    """Indices of the reduction cells: at 1/3 and 2/3 of the depth (DARTS)."""
    return frozenset({layers // 3, 2 * layers // 3})


def reduced(size: int) -> int:
    """Feature-map side after a stride-2 op (3×3 padding 1, or FactorizedReduce)."""
    return (size + 1) // 2


def source_name(source: int) -> str:
    """How ``describe`` names an input index: the two cell inputs, then the nodes."""
    return ("c_{k-2}", "c_{k-1}")[source] if source < CELL_INPUTS else f"node {source}"
