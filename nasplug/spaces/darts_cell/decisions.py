"""The decisions of the darts-cell space in both factorisations, and how an architecture maps onto edges.

* ``edge`` (DARTS, MdeNAS, EoiNAS): one decision per edge, ``normal/edge 3<-1``,
  over the 8 PRIMITIVES.
* ``slot`` (PARSEC Eq. 4–5): two decisions per intermediate node,
  ``normal/node 3 slot 0``, each over ``"{op}<-{input}"`` for every earlier
  index and the 7 non-``none`` ops (input-major order).

Both address the same shared op of edge (node, input), so a supernet trained
under one factorisation runs architectures of the other.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from nasplug.core.architecture import Architecture, ArchitectureError, Decision
from nasplug.spaces.darts_cell.cell import CELL_TYPES, NODES
from nasplug.spaces.darts_cell.ops import OPERATIONS, PRIMITIVES

SLOTS = (0, 1)

Gate = torch.Tensor | float | None
EdgePaths = dict[str, dict[tuple[int, int], list[tuple[str, Gate]]]]
"""cell type → (node, input) → the (op name, gate) pairs to run on that edge."""


def edge_key(cell: str, node: int, source: int) -> str:
    return f"{cell}/edge {node}<-{source}"


def slot_key(cell: str, node: int, slot: int) -> str:
    return f"{cell}/node {node} slot {slot}"


def slot_choices(node: int) -> tuple[str, ...]:
    return tuple(f"{op}<-{source}" for source in range(node) for op in OPERATIONS)


def slot_choice(index: int) -> tuple[str, int]:
    """(op, input) of choice ``index`` of a slot decision (input-major order)."""
    source, op = divmod(index, len(OPERATIONS))
    return OPERATIONS[op], source


_EDGES = {
    edge_key(cell, node, source): (cell, node, source)
    for cell in CELL_TYPES
    for node in NODES
    for source in range(node)
}
_SLOTS = {slot_key(cell, node, slot): (cell, node) for cell in CELL_TYPES for node in NODES for slot in SLOTS}

DECISIONS: dict[str, tuple[Decision, ...]] = {
    "edge": tuple(Decision(key, PRIMITIVES) for key in _EDGES),
    "slot": tuple(Decision(key, slot_choices(node)) for key, (_, node) in _SLOTS.items()),
}


def factorisation_of(keys: Iterable[str], what: str) -> str:
    """Which factorisation ``keys`` belong to; unknown or mixed keys are an ArchitectureError."""
    keys = list(keys)
    unknown = [key for key in keys if key not in _EDGES and key not in _SLOTS]
    if unknown:
        raise ArchitectureError(
            f"{what} has unknown darts-cell keys: {', '.join(map(repr, unknown[:3]))}"
            f"{' ...' if len(unknown) > 3 else ''}; "
            "expected e.g. 'normal/edge 2<-0' or 'normal/node 2 slot 0'"
        )
    edges = sum(key in _EDGES for key in keys)
    if edges and edges < len(keys):
        raise ArchitectureError(f"{what} mixes edge keys and slot keys; use one factorisation")
    return "slot" if keys and not edges else "edge"


def edge_paths(arch: Architecture) -> EdgePaths:
    """The ops each edge runs under ``arch`` (keys of either factorisation); ``none`` is dropped."""
    paths: EdgePaths = {cell: {} for cell in CELL_TYPES}
    factorisation = factorisation_of(arch.paths, "architecture")
    sizes = {d.key: len(d) for d in DECISIONS[factorisation]}
    for key, entries in arch.paths.items():
        for path in entries:
            if not 0 <= path.choice < sizes[key]:
                raise ArchitectureError(
                    f"choice {path.choice} out of range for {key!r} ({sizes[key]} choices)"
                )
            if factorisation == "edge":
                cell, node, source = _EDGES[key]
                op = PRIMITIVES[path.choice]
            else:
                cell, node = _SLOTS[key]
                op, source = slot_choice(path.choice)
            if op != "none":
                paths[cell].setdefault((node, source), []).append((op, path.gate))
    return paths
