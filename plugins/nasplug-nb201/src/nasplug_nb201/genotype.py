"""The NAS-Bench-201 genotype: one op per edge, written in the benchmark's own string notation.

``|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|``
lists node 1's input edge, then node 2's two, then node 3's three; ``op~j`` is the op on the edge
from node ``j`` (paper §2.1). :data:`EDGES` is that order, the order of every op tuple here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from nasplug import ArchitectureError, Genotype
from nasplug_nb201.ops import OPS

SPACE_NAME = "nas-bench-201"
NODES = (1, 2, 3)
"""The computed nodes; node 0 is the cell's input and node 3 its output."""
EDGES = tuple((node, source) for node in NODES for source in range(node))
"""(node, source) of the six edges: (1←0), (2←0), (2←1), (3←0), (3←1), (3←2)."""
CELLS = len(OPS) ** len(EDGES)
"""15,625: every cell of the space, each with its row in the table."""


def _check_ops(_instance: Any, _attribute: attrs.Attribute, ops: tuple[str, ...]) -> None:
    if len(ops) != len(EDGES):
        raise ArchitectureError(f"a NAS-Bench-201 cell has {len(EDGES)} edges, got {len(ops)} ops")
    for (node, source), op in zip(EDGES, ops):
        if op not in OPS:
            raise ArchitectureError(
                f"edge {node}<-{source}: {op!r} is not a NAS-Bench-201 op; ops: {', '.join(OPS)}"
            )


@attrs.frozen
class Nb201Genotype(Genotype):
    """A cell of the space: the op of each edge of :data:`EDGES`."""

    space: ClassVar[str] = SPACE_NAME
    ops: tuple[str, ...] = attrs.field(converter=tuple, validator=_check_ops)

    @property
    def code(self) -> int:
        """The cell's position in the table: edge i's op index is the i-th base-5 digit (least first)."""
        return sum(OPS.index(op) * len(OPS) ** i for i, op in enumerate(self.ops))

    @classmethod
    def from_code(cls, code: int) -> Nb201Genotype:
        """The cell at position ``code`` (0 to 15,624) of the table: the inverse of :attr:`code`."""
        if not 0 <= code < CELLS:
            raise ArchitectureError(f"cell code {code} is outside 0..{CELLS - 1}")
        return cls(tuple(OPS[code // len(OPS) ** i % len(OPS)] for i in range(len(EDGES))))

    def to_string(self) -> str:
        """The benchmark's notation."""
        nodes = []
        for node in NODES:
            edges = [f"{op}~{source}" for (target, source), op in zip(EDGES, self.ops) if target == node]
            nodes.append("|" + "|".join(edges) + "|")
        return "+".join(nodes)

    @classmethod
    def from_string(cls, text: str, source: str = "genotype") -> Nb201Genotype:
        """Parse the benchmark's notation; a malformed string names ``source`` and the problem."""
        example = "'|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|'"
        groups = text.strip().split("+")
        if len(groups) != len(NODES):
            raise ArchitectureError(
                f"{source}: {text!r} has {len(groups)} node groups separated by '+', expected "
                f"{len(NODES)}, e.g. {example}"
            )
        ops = []
        for node, group in zip(NODES, groups):
            if not (group.startswith("|") and group.endswith("|")):
                raise ArchitectureError(f"{source}: node {node}'s group {group!r} must start and end with '|'")
            edges = group[1:-1].split("|")
            if len(edges) != node:
                raise ArchitectureError(f"{source}: node {node} needs {node} edges, got {group!r}")
            for expected, edge in enumerate(edges):
                op, tilde, index = edge.partition("~")
                if not tilde or index != str(expected):
                    raise ArchitectureError(
                        f"{source}: node {node}'s edge {edge!r} must be 'op~{expected}' (edges in source order)"
                    )
                ops.append(op)
        try:
            return cls(tuple(ops))
        except ArchitectureError as exc:
            raise ArchitectureError(f"{source}: {exc}") from None

    def to_json(self) -> dict[str, Any]:
        return {"space": SPACE_NAME, "arch": self.to_string()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str) -> Nb201Genotype:
        arch = data.get("arch")
        if not isinstance(arch, str):
            raise ArchitectureError(
                f"{source}: a {SPACE_NAME} genotype needs 'arch', the benchmark's cell string, got {arch!r}"
            )
        unknown = sorted(set(data) - {"space", "arch"})
        if unknown:
            raise ArchitectureError(f"{source}: unknown keys {', '.join(unknown)}; expected 'space' and 'arch'")
        return cls.from_string(arch, source)


PUBLISHED = {
    "NB201_OPTIMUM": Nb201Genotype.from_string(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
    ),
    "NB201_RESNET": Nb201Genotype.from_string(
        "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
    ),
    "NB201_DARTS": Nb201Genotype.from_string(
        "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
    ),
}
"""One of the table's two best CIFAR-10 cells (94.37), the cell of a ResNet basic block (two 3×3 convs and
the identity shortcut; the paper's ResNet baseline, Table 5) and the all-skip cell DARTS collapses to in
the paper's weight-sharing experiments (Table 5: 54.30)."""
