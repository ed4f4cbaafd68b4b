"""The darts-cell genotype (the DARTS format), its JSON form, validation and the published cells."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from nasplug.core.architecture import ArchitectureError
from nasplug.core.space import Genotype
from nasplug.spaces.darts_cell.cell import CELL_TYPES, DEFAULT_CONCAT, NODES, source_name
from nasplug.spaces.darts_cell.ops import OPERATIONS

ENTRIES_PER_NODE = 2
JSON_KEYS = ("space", "normal", "normal_concat", "reduce", "reduce_concat")


def _as_tuple(value: Any) -> Any:
    """Lists (JSON arrays) become tuples; anything else is left for the validators to reject."""
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _cell_converter(value: Any) -> Any:
    value = _as_tuple(value)
    return tuple(_as_tuple(entry) for entry in value) if isinstance(value, tuple) else value


def _check_cell(_instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    expected = ENTRIES_PER_NODE * len(NODES)
    if not isinstance(value, tuple):
        raise ArchitectureError(
            f"{attribute.name!r} must be a list of {expected} [op, input] pairs, got {type(value).__name__}"
        )
    if len(value) != expected:
        raise ArchitectureError(
            f"{attribute.name!r} has {len(value)} entries, expected {expected} "
            f"({ENTRIES_PER_NODE} per intermediate node {NODES[0]}..{NODES[-1]})"
        )
    for position, entry in enumerate(value):
        node = NODES[position // ENTRIES_PER_NODE]
        where = f"{attribute.name!r} entry {position} (node {node})"
        if not (
            isinstance(entry, tuple)
            and len(entry) == 2
            and isinstance(entry[0], str)
            and isinstance(entry[1], int)
            and not isinstance(entry[1], bool)
        ):
            raise ArchitectureError(
                f"{where} must be [op, input] with a string op and an integer input, got {entry!r}"
            )
        op, source = entry
        if op not in OPERATIONS:
            raise ArchitectureError(f"{where}: unknown op {op!r}; valid ops: {', '.join(OPERATIONS)}")
        if not 0 <= source < node:
            raise ArchitectureError(
                f"{where}: input {source} must be in 0..{node - 1} (0, 1 = cell inputs, 2.. = earlier nodes)"
            )


def _check_concat(_instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    valid = (
        isinstance(value, tuple)
        and value
        and all(isinstance(node, int) and not isinstance(node, bool) and node in NODES for node in value)
        and len(set(value)) == len(value)
    )
    if not valid:
        shown = list(value) if isinstance(value, tuple) else value
        raise ArchitectureError(
            f"{attribute.name!r} is {shown!r}; expected a non-empty list of distinct intermediate nodes "
            f"from {list(NODES)}"
        )


@attrs.frozen
class DartsGenotype(Genotype):
    """A derived cell pair in the DARTS format.

    ``normal``/``reduce`` hold 2 ``(op, input)`` entries per intermediate node
    2..5, in node order; input 0 and 1 are the cell inputs (c_{k-2}, c_{k-1}),
    2.. the earlier nodes. ``*_concat`` lists the nodes whose outputs are
    concatenated into the cell output.
    """

    space: ClassVar[str] = "darts-cell"

    normal: tuple[tuple[str, int], ...] = attrs.field(converter=_cell_converter, validator=_check_cell)
    reduce: tuple[tuple[str, int], ...] = attrs.field(converter=_cell_converter, validator=_check_cell)
    normal_concat: tuple[int, ...] = attrs.field(
        default=DEFAULT_CONCAT, converter=_as_tuple, validator=_check_concat
    )
    reduce_concat: tuple[int, ...] = attrs.field(
        default=DEFAULT_CONCAT, converter=_as_tuple, validator=_check_concat
    )

    def cell(self, cell_type: str) -> tuple[tuple[tuple[str, int], ...], tuple[int, ...]]:
        """(entries, concat) of the ``normal`` or ``reduce`` cell."""
        return getattr(self, cell_type), getattr(self, f"{cell_type}_concat")

    def to_json(self) -> dict[str, Any]:
        return {
            "space": self.space,
            "normal": [[op, source] for op, source in self.normal],
            "normal_concat": list(self.normal_concat),
            "reduce": [[op, source] for op, source in self.reduce],
            "reduce_concat": list(self.reduce_concat),
        }

    @classmethod
    def from_json(cls, data: Any, source: str) -> DartsGenotype:
        """Validate JSON data; every error starts with ``source`` and says what and where.

        ``normal_concat``/``reduce_concat`` may be omitted (default [2, 3, 4, 5]).
        """
        if not isinstance(data, Mapping):
            raise ArchitectureError(f"{source}: expected a JSON object, got {type(data).__name__}")
        if data.get("space", cls.space) != cls.space:
            raise ArchitectureError(f"{source}: genotype of space {data['space']!r}, not {cls.space!r}")
        unknown = sorted(set(data) - set(JSON_KEYS), key=str)
        if unknown:
            raise ArchitectureError(
                f"{source}: unknown genotype entries {', '.join(map(repr, unknown))}; "
                f"expected {', '.join(JSON_KEYS)}"
            )
        missing = [key for key in CELL_TYPES if key not in data]
        if missing:
            raise ArchitectureError(f"{source}: missing {', '.join(map(repr, missing))}")
        try:
            return cls(**{key: value for key, value in data.items() if key != "space"})
        except ArchitectureError as exc:
            raise ArchitectureError(f"{source}: {exc}") from None


def describe(genotype: DartsGenotype) -> str:
    """Both cells, node by node: ``node 2 = sep_conv_3x3(c_{k-1}) + skip_connect(c_{k-2})``."""
    lines = []
    for cell_type, title in zip(CELL_TYPES, ("normal cell", "reduction cell"), strict=True):
        entries, concat = genotype.cell(cell_type)
        lines.append(f"{title} (output = concat of nodes {', '.join(map(str, concat))}):")
        for index, node in enumerate(NODES):
            pair = entries[ENTRIES_PER_NODE * index : ENTRIES_PER_NODE * (index + 1)]
            terms = " + ".join(f"{op}({source_name(source)})" for op, source in pair)
            lines.append(f"  node {node} = {terms}")
    return "\n".join(lines)


DARTS_V1 = DartsGenotype(
    normal=[
        ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 0), ("sep_conv_3x3", 1),
        ("skip_connect", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 2),
    ],
    reduce=[
        ("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 0),
        ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("avg_pool_3x3", 0),
    ],
)  # fmt: skip
"""DARTS (first order), the DARTS paper's released cell."""

DARTS_V2 = DartsGenotype(
    normal=[
        ("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2),
    ],
    reduce=[
        ("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
        ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1),
    ],
)  # fmt: skip
"""DARTS (second order), the cell of the DARTS paper's CIFAR-10 and ImageNet tables."""

MDENAS = DartsGenotype(
    normal=[
        ("sep_conv_5x5", 1), ("sep_conv_3x3", 0), ("skip_connect", 0), ("sep_conv_5x5", 1),
        ("sep_conv_5x5", 3), ("sep_conv_3x3", 1), ("dil_conv_5x5", 3), ("max_pool_3x3", 4),
    ],
    reduce=[
        ("max_pool_3x3", 0), ("sep_conv_5x5", 1), ("skip_connect", 0), ("skip_connect", 1),
        ("sep_conv_3x3", 3), ("skip_connect", 2), ("dil_conv_3x3", 3), ("sep_conv_5x5", 0),
    ],
)  # fmt: skip
"""MdeNAS, the cell released with its code."""

EOINAS = DartsGenotype(
    normal=[
        ("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
        ("skip_connect", 0), ("dil_conv_3x3", 2), ("skip_connect", 1), ("dil_conv_5x5", 4),
    ],
    reduce=[
        ("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_5x5", 0), ("dil_conv_5x5", 2),
        ("dil_conv_3x3", 1), ("dil_conv_5x5", 3), ("dil_conv_5x5", 3), ("dil_conv_5x5", 4),
    ],
)  # fmt: skip
"""EoiNAS, the CIFAR cell released with its code."""

PUBLISHED: dict[str, DartsGenotype] = {
    "DARTS_V1": DARTS_V1,
    "DARTS_V2": DARTS_V2,
    "MDENAS": MDENAS,
    "EOINAS": EOINAS,
}
