"""A space's decisions as one padded (D, M) table, so MdeNAS works in array operations.

Decisions may differ in size (a ProxylessNAS block offers ``zero`` only where it
can be skipped), so rows are padded to the largest choice count and a boolean
mask marks the real choices. Padded entries hold probability 0, are never
sampled and never take part in a comparison of Eq. 3–5.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import torch

from nasplug import Architecture, Decision


def _tuple(values: Sequence) -> tuple:
    return tuple(values)


@attrs.frozen
class DecisionTable:
    """Row ``d`` of every tensor belongs to ``keys[d]``, whose first ``sizes[d]`` columns are real."""

    keys: tuple[str, ...] = attrs.field(converter=_tuple)
    sizes: tuple[int, ...] = attrs.field(converter=_tuple)

    @classmethod
    def from_decisions(cls, decisions: Sequence[Decision]) -> DecisionTable:
        return cls([d.key for d in decisions], [len(d) for d in decisions])

    @property
    def width(self) -> int:
        return max(self.sizes, default=0)

    def mask(self) -> torch.Tensor:
        """Bool (D, M): True where a column is a real choice of its decision."""
        columns = torch.arange(self.width)
        return columns.unsqueeze(0) < torch.tensor(self.sizes).unsqueeze(1)

    def uniform(self) -> torch.Tensor:
        """p_i = 1/M per decision (paper Eq. 1 initialisation), 0 on padding."""
        mask = self.mask().to(torch.float64)
        return mask / mask.sum(dim=1, keepdim=True)

    def architecture(self, indices: torch.Tensor) -> Architecture:
        """The single-path architecture choosing column ``indices[d]`` for decision ``d``."""
        return Architecture.single_path(dict(zip(self.keys, indices.tolist())))

    def one_hot(self, architecture: Architecture) -> torch.Tensor:
        """Int64 (D, M): 1 at the choice ``architecture`` made for each decision."""
        indices = torch.tensor([architecture.choice(key) for key in self.keys])
        return torch.nn.functional.one_hot(indices, self.width)

    def to_mapping(self, rows: torch.Tensor) -> dict[str, list[float]]:
        """``{key: [value per real choice]}``, padding dropped (scores, reports)."""
        return {key: rows[d, :size].tolist() for d, (key, size) in enumerate(zip(self.keys, self.sizes))}
