"""The darts-cell derivation rule: per-decision scores → a :class:`DartsGenotype`.

Edge scores (DARTS, MdeNAS, EoiNAS): for each intermediate node, rank its inputs
by their best non-``none`` score, keep the top 2, and give each its best
non-``none`` op. Slot scores (PARSEC): the mode, i.e. the argmax of each slot.
Ties go to the lower index everywhere (earlier op in PRIMITIVES order, lower
input index), so a derivation is deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from nasplug.core.architecture import ArchitectureError
from nasplug.spaces.darts_cell.cell import NODES
from nasplug.spaces.darts_cell.decisions import (
    DECISIONS,
    SLOTS,
    edge_key,
    factorisation_of,
    slot_choice,
    slot_key,
)
from nasplug.spaces.darts_cell.genotypes import ENTRIES_PER_NODE, DartsGenotype
from nasplug.spaces.darts_cell.ops import PRIMITIVES

Table = dict[str, list[float]]


def genotype_from_scores(scores: Mapping[str, Sequence[float]]) -> DartsGenotype:
    """Apply the rule of the factorisation the keys belong to; every decision needs a full score row."""
    factorisation = factorisation_of(scores, "score table")
    table = _checked_table(scores, factorisation)
    rule = _top_two_edges if factorisation == "edge" else _slot_modes
    return DartsGenotype(normal=rule(table, "normal"), reduce=rule(table, "reduce"))


def _checked_table(scores: Mapping[str, Sequence[float]], factorisation: str) -> Table:
    decisions = DECISIONS[factorisation]
    missing = [d.key for d in decisions if d.key not in scores]
    if missing:
        raise ArchitectureError(
            f"score table lacks {len(missing)} {factorisation} decisions, e.g. {missing[0]!r}"
        )
    table = {}
    for decision in decisions:
        row = [float(value) for value in scores[decision.key]]
        if len(row) != len(decision):
            raise ArchitectureError(
                f"scores of {decision.key!r} have {len(row)} entries, expected {len(decision)}"
            )
        if any(math.isnan(value) for value in row):
            raise ArchitectureError(f"scores of {decision.key!r} contain NaN: {row}")
        table[decision.key] = row
    return table


def _argmax(row: Sequence[float], candidates: range) -> int:
    """The first index of the highest score among ``candidates`` (``max`` keeps the first maximum)."""
    return max(candidates, key=lambda index: row[index])


def _top_two_edges(table: Table, cell: str) -> list[tuple[str, int]]:
    genes = []
    non_none = range(1, len(PRIMITIVES))  # PRIMITIVES[0] is none
    for node in NODES:
        rows = [table[edge_key(cell, node, source)] for source in range(node)]
        best = [_argmax(row, non_none) for row in rows]
        # sorted is stable: equal best scores keep the lower input first (DARTS's own ordering)
        ranked = sorted(range(node), key=lambda source: -rows[source][best[source]])
        genes += [(PRIMITIVES[best[source]], source) for source in ranked[:ENTRIES_PER_NODE]]
    return genes


def _slot_modes(table: Table, cell: str) -> list[tuple[str, int]]:
    genes = []
    for node in NODES:
        for slot in SLOTS:
            row = table[slot_key(cell, node, slot)]
            genes.append(slot_choice(_argmax(row, range(len(row)))))
    return genes
