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


AUTO_REDUCTIONS = "auto"


def reduction_layers(layers: int, positions: str = AUTO_REDUCTIONS) -> frozenset[int]:
    """Indices (from 0) of the reduction cells.

    ``auto``: at 1/3 and 2/3 of the depth (DARTS); otherwise comma-separated
    cell indices, e.g. ``1,2`` for MdeNAS's "second and third layers" of 6 cells.
    """
    if positions.strip() == AUTO_REDUCTIONS:
        return frozenset({layers // 3, 2 * layers // 3})
    try:
        indices = [int(part) for part in positions.split(",")]
    except ValueError:
        raise ValueError(f"reductions must be 'auto' or comma-separated cell indices, got {positions!r}") from None
    outside = [index for index in indices if not 0 <= index < layers]
    if outside:
        raise ValueError(f"reduction cell index {outside[0]} is not one of the {layers} cells (0..{layers - 1})")
    return frozenset(indices)


def reduced(size: int) -> int:
    """Feature-map side after a stride-2 op (3×3 padding 1, or FactorizedReduce)."""
    return (size + 1) // 2


def source_name(source: int) -> str:
    """How ``describe`` names an input index: the two cell inputs, then the nodes."""
    return ("c_{k-2}", "c_{k-1}")[source] if source < CELL_INPUTS else f"node {source}"
