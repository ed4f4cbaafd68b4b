"""The DARTS search network: one weight-sharing supernet that runs any architecture of the space.

Each edge holds its candidate ops; ``forward(x, arch)`` runs only the ops that
``arch`` names (times their gates), so an unsampled op costs nothing and gets
no gradient. Normal cells follow the ``normal/...`` decisions, reduction cells
the ``reduce/...`` ones; every cell has its own weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from nasplug.core.architecture import Architecture, ArchitectureError
from nasplug.spaces.darts_cell.cell import CELL_TYPES, NODES, reduced, reduction_layers
from nasplug.spaces.darts_cell.decisions import EdgePaths, Gate, edge_key, edge_paths
from nasplug.spaces.darts_cell.ops import OPERATIONS, FactorizedReduce, ReLUConvBN, search_op

EdgeOps = Mapping[tuple[int, int], Sequence[str]]
"""(node, input) → names of the ops an edge holds."""


class SearchCell(nn.Module):
    """A cell with candidate ops on all 14 edges (or only those of ``edge_ops``).

    ``edges["3_1"]`` holds the ops of the edge into node 3 from input 1.
    """

    def __init__(
        self,
        cell_type: str,
        c_prev_prev: int,
        c_prev: int,
        channels: int,
        reduction_prev: bool,
        edge_ops: EdgeOps | None,
    ) -> None:
        super().__init__()
        self.cell_type = cell_type
        self.reduction = cell_type == "reduce"
        self.channels = channels
        if reduction_prev:  # s0 has twice the resolution of s1
            self.preprocess0: nn.Module = FactorizedReduce(c_prev_prev, channels, affine=False)
        else:
            self.preprocess0 = ReLUConvBN(c_prev_prev, channels, 1, 1, 0, affine=False)
        self.preprocess1 = ReLUConvBN(c_prev, channels, 1, 1, 0, affine=False)
        self.edges = nn.ModuleDict()
        for node in NODES:
            for source in range(node):
                names = OPERATIONS if edge_ops is None else edge_ops.get((node, source), ())
                stride = 2 if self.reduction and source < 2 else 1
                self.edges[f"{node}_{source}"] = nn.ModuleDict(
                    {name: search_op(name, channels, stride) for name in OPERATIONS if name in names}
                )

    def forward(
        self, s0: torch.Tensor, s1: torch.Tensor, paths: Mapping[tuple[int, int], Sequence[tuple[str, Gate]]]
    ) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        batch, _, height, width = states[1].shape
        if self.reduction:
            height, width = reduced(height), reduced(width)
        for node in NODES:
            terms = []
            for source in range(node):
                for name, gate in paths.get((node, source), ()):
                    out = self._op(node, source, name)(states[source])
                    terms.append(out if gate is None else out * gate)
            if terms:
                states.append(sum(terms[1:], terms[0]))
            else:  # every incoming edge is none or absent
                states.append(states[1].new_zeros(batch, self.channels, height, width))
        return torch.cat(states[2:], dim=1)

    def _op(self, node: int, source: int, name: str) -> nn.Module:
        ops = self.edges[f"{node}_{source}"]
        if name not in ops:
            raise ArchitectureError(
                f"{edge_key(self.cell_type, node, source)}: op {name!r} is not in this network "
                f"(it was built for another architecture with only=)"
            )
        return ops[name]


class SearchNetwork(nn.Module):
    """Stem (3×3 conv → stem_multiplier·C, BN), ``layers`` search cells, global pool, linear.

    Channels double at the reduction cells (``reductions``, cell indices; by
    default 1/3 and 2/3 of the depth).
    ``edge_ops`` (per cell type) restricts the ops built, for the standalone
    child of one architecture; the forward is the same either way.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        layers: int,
        channels: int,
        stem_multiplier: int,
        edge_ops: Mapping[str, EdgeOps] | None = None,
        reductions: frozenset[int] | None = None,
    ) -> None:
        super().__init__()
        c_curr = stem_multiplier * channels
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, c_curr, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_curr),
        )
        c_prev_prev, c_prev, c_curr = c_curr, c_curr, channels
        reductions = reduction_layers(layers) if reductions is None else reductions
        self.cells = nn.ModuleList()
        reduction_prev = False
        for index in range(layers):
            reduction = index in reductions
            if reduction:
                c_curr *= 2
            cell_type = CELL_TYPES[reduction]
            cell = SearchCell(
                cell_type,
                c_prev_prev,
                c_prev,
                c_curr,
                reduction_prev,
                None if edge_ops is None else edge_ops[cell_type],
            )
            self.cells.append(cell)
            reduction_prev = reduction
            c_prev_prev, c_prev = c_prev, len(NODES) * c_curr
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor, arch: Architecture) -> torch.Tensor:
        paths: EdgePaths = edge_paths(arch)
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, paths[cell.cell_type])
        return self.classifier(self.global_pool(s1).flatten(1))


def child_ops(arch: Architecture) -> dict[str, EdgeOps]:
    """The ops ``arch`` runs, per cell type and edge: what a standalone child must hold."""
    return {
        cell: {edge: [name for name, _ in entries] for edge, entries in edges.items()}
        for cell, edges in edge_paths(arch).items()
    }
