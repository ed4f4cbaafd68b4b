"""The NAS-Bench-201 network: the cell DAG and the benchmark's macro skeleton (paper §2.1, Fig. 1).

Stem (3×3 conv, BN) → N cells at C → residual reduction → N cells at 2C → residual reduction →
N cells at 4C → BN-ReLU → global average pool → linear. One module serves both uses: the search
network (every op on every edge, or those of ``edge_ops``; ``forward(x, arch)``) and the standalone
network of one genotype (``forward(x)``), so the two run the same code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from nasplug import Architecture, ArchitectureError
from nasplug_nb201.decisions import EdgePaths, edge_paths
from nasplug_nb201.genotype import EDGES, NODES
from nasplug_nb201.ops import OPS, ResidualReduction, batch_norm, cell_op

EdgeOps = Mapping[tuple[int, int], Sequence[str]]
"""(node, source) → the ops an edge holds."""

STAGES = 3


class Cell(nn.Module):
    """Node j = Σ_{i<j} op_{j←i}(node i); node 0 is the input, node 3 the output."""

    def __init__(self, channels: int, edge_ops: EdgeOps, search: bool) -> None:
        super().__init__()
        self.edges = nn.ModuleDict()
        for node, source in EDGES:
            modules = {name: cell_op(name, channels, search) for name in edge_ops.get((node, source), ())}
            self.edges[f"{node}_{source}"] = nn.ModuleDict(
                {name: module for name, module in modules.items() if module is not None}
            )

    def forward(self, x: torch.Tensor, paths: EdgePaths) -> torch.Tensor:
        states = [x]
        for node in NODES:
            terms = []
            for source in range(node):
                for name, gate in paths.get((node, source), ()):
                    out = self._op(node, source, name)(states[source])
                    terms.append(out if gate is None else out * gate)
            states.append(sum(terms[1:], terms[0]) if terms else torch.zeros_like(x))
        return states[-1]

    def _op(self, node: int, source: int, name: str) -> nn.Module:
        ops = self.edges[f"{node}_{source}"]
        if name not in ops:
            raise ArchitectureError(
                f"edge {node}<-{source}: op {name!r} is not in this network (it was built for another cell)"
            )
        return ops[name]


class Nb201Network(nn.Module):
    """The macro skeleton around ``cells_per_stage`` cells per stage at ``channels``, 2×, 4× channels.

    ``search`` builds the weight-sharing form (the cell ops' BN without running statistics or affine
    parameters); ``edge_ops`` restricts the ops built (None: all of them).
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        cells_per_stage: int,
        channels: int,
        edge_ops: EdgeOps | None,
        search: bool,
    ) -> None:
        super().__init__()
        edge_ops = {edge: OPS for edge in EDGES} if edge_ops is None else edge_ops
        self.stem = nn.Sequential(nn.Conv2d(in_channels, channels, 3, padding=1, bias=False), batch_norm(channels))
        self.cells = nn.ModuleList()
        width = channels
        for stage in range(STAGES):
            if stage:
                self.cells.append(ResidualReduction(width, 2 * width))
                width *= 2
            self.cells.extend(Cell(width, edge_ops, search) for _ in range(cells_per_stage))
        self.head = nn.Sequential(batch_norm(width), nn.ReLU())
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(width, num_classes)

    def forward_paths(self, x: torch.Tensor, paths: EdgePaths) -> torch.Tensor:
        x = self.stem(x)
        for block in self.cells:
            x = block(x, paths) if isinstance(block, Cell) else block(x)
        return self.classifier(self.global_pool(self.head(x)).flatten(1))


class SearchNetwork(Nb201Network):
    """The supernet: ``forward(x, arch)`` runs the ops ``arch`` names on every cell (cells share the choice)."""

    def __init__(self, in_channels: int, num_classes: int, cells_per_stage: int, channels: int,
                 edge_ops: EdgeOps | None = None) -> None:
        super().__init__(in_channels, num_classes, cells_per_stage, channels, edge_ops, search=True)

    def forward(self, x: torch.Tensor, arch: Architecture) -> torch.Tensor:
        return self.forward_paths(x, edge_paths(arch))


class CellNetwork(Nb201Network):
    """The standalone network of one cell, as the benchmark trained it; ``forward(x)`` returns logits."""

    def __init__(self, ops: Sequence[str], in_channels: int, num_classes: int, cells_per_stage: int,
                 channels: int) -> None:
        used = {edge: op for edge, op in zip(EDGES, ops) if op != "none"}
        super().__init__(in_channels, num_classes, cells_per_stage, channels,
                         {edge: (op,) for edge, op in used.items()}, search=False)
        self.paths = {edge: [(op, None)] for edge, op in used.items()}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_paths(x, self.paths)
