"""The proxyless-mbv2 genotype: a skeleton plus one choice per searchable block, as JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs

from nasplug.core.architecture import ArchitectureError
from nasplug.core.space import Genotype
from nasplug.spaces.proxyless.blocks import ZERO, parse_choice
from nasplug.spaces.proxyless.skeleton import SKELETONS, Skeleton, skeleton_from_json

SPACE_NAME = "proxyless-mbv2"


def _str_tuple(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(values)


@attrs.frozen
class ProxylessGenotype(Genotype):
    """``blocks[i - 1]`` is the choice of block i (``"7x7_MBConv6"`` or ``"zero"``).

    The skeleton travels with the genotype, so a file rebuilds its network on its
    own (the published nets each have their own widths).
    """

    space: ClassVar[str] = SPACE_NAME

    skeleton: Skeleton
    blocks: tuple[str, ...] = attrs.field(converter=_str_tuple)

    def __attrs_post_init__(self) -> None:
        if len(self.blocks) != self.skeleton.num_blocks:
            raise ArchitectureError(
                f"{len(self.blocks)} block choices for a skeleton of {self.skeleton.num_blocks} blocks"
            )
        for index, name in enumerate(self.blocks, start=1):
            try:
                candidate = parse_choice(name)
            except ArchitectureError as exc:
                raise ArchitectureError(f"block {index}: {exc}") from None
            if candidate is None and not self.skeleton.zero_allowed(index):
                raise ArchitectureError(
                    f"block {index} is the first of its stage (it changes stride or width), "
                    "so it cannot be zero"
                )

    def choice(self, index: int) -> str:
        """The choice of block ``index`` (1-based, as the decision keys)."""
        return self.blocks[index - 1]

    def zero_blocks(self) -> tuple[int, ...]:
        return tuple(i for i, name in enumerate(self.blocks, start=1) if name == ZERO)

    def to_json(self) -> dict[str, Any]:
        return {"space": self.space, "skeleton": self.skeleton.to_json(), "blocks": list(self.blocks)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str) -> ProxylessGenotype:
        """Validate ``data``; every problem is an ArchitectureError starting with ``source``."""
        try:
            return cls._from_json(data)
        except ArchitectureError as exc:
            raise ArchitectureError(f"{source}: {exc}") from None

    @classmethod
    def _from_json(cls, data: Mapping[str, Any]) -> ProxylessGenotype:
        if not isinstance(data, Mapping):
            raise ArchitectureError(f"expected a JSON object, got {type(data).__name__}")
        if data.get("space", SPACE_NAME) != SPACE_NAME:
            raise ArchitectureError(f"genotype of space {data['space']!r}, not {SPACE_NAME!r}")
        unknown = sorted(set(data) - {"space", "skeleton", "blocks"})
        if unknown:
            raise ArchitectureError(f"unknown keys {', '.join(unknown)} (expected space, skeleton, blocks)")
        if "blocks" not in data:
            raise ArchitectureError("no 'blocks' list")
        blocks = data["blocks"]
        if not isinstance(blocks, list) or not all(isinstance(b, str) for b in blocks):
            raise ArchitectureError(f"'blocks' must be a list of choice names, got {blocks!r}")
        skeleton = skeleton_from_json(data.get("skeleton", SKELETONS["mobilenetv2"].name))
        return cls(skeleton, blocks)
