"""The fixed frame around the searchable blocks: widths, depths, strides, and where `zero` may go.

A :class:`Skeleton` is plain data (base widths, before any width multiplier);
:func:`block_layout` turns it into the concrete channel counts and strides of
one network. Blocks are numbered as in ProxylessNAS's figure: 0 is the fixed
3×3 MBConv1 block after the stem, 1…N are searchable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from nasplug.core.architecture import ArchitectureError

CHANNEL_DIVISOR = 8
"""ProxylessNAS (as MobileNetV2) rounds every scaled width to a multiple of 8."""

MOBILENETV2_MIX = 1280


def _int_tuple(values: Sequence[int]) -> tuple[int, ...]:
    return tuple(values)


def _positive(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    items = value if isinstance(value, tuple) else (value,)
    if not items or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in items):
        raise ArchitectureError(f"skeleton {attribute.name} must be positive integers, got {value!r}")


@attrs.frozen
class Skeleton:
    """Base widths and depths of the MobileNetV2-style frame (ProxylessNAS's ``ProxylessNASNets``).

    ``widths``, ``depths`` and ``strides`` have one entry per stage; a stage's
    first block has its stride, the others stride 1.
    """

    first_conv: int = attrs.field(validator=_positive)
    first_block: int = attrs.field(validator=_positive)
    widths: tuple[int, ...] = attrs.field(converter=_int_tuple, validator=_positive)
    depths: tuple[int, ...] = attrs.field(converter=_int_tuple, validator=_positive)
    strides: tuple[int, ...] = attrs.field(converter=_int_tuple)
    feature_mix: int = attrs.field(validator=_positive)
    name: str = ""

    def __attrs_post_init__(self) -> None:
        if not len(self.widths) == len(self.depths) == len(self.strides):
            raise ArchitectureError(
                f"skeleton widths, depths and strides need one entry per stage, got "
                f"{len(self.widths)}, {len(self.depths)} and {len(self.strides)}"
            )
        if any(s not in (1, 2) for s in self.strides):
            raise ArchitectureError(f"skeleton strides must be 1 or 2, got {list(self.strides)}")

    @property
    def num_blocks(self) -> int:
        return sum(self.depths)

    def zero_allowed(self, index: int) -> bool:
        """`zero` may replace block ``index`` only where it is not the first of its stage.

        There the stride is 1 and input and output widths match, so skipping the
        block leaves the shapes intact (ProxylessNAS adds `Zero` exactly there).
        """
        return index not in self.stage_starts()

    def stage_starts(self) -> tuple[int, ...]:
        """Index of the first block of every stage."""
        starts, index = [], 1
        for depth in self.depths:
            starts.append(index)
            index += depth
        return tuple(starts)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "first_conv": self.first_conv,
            "first_block": self.first_block,
            "widths": list(self.widths),
            "depths": list(self.depths),
            "strides": list(self.strides),
            "feature_mix": self.feature_mix,
        }


MOBILENETV2_DEPTHS = (4, 4, 4, 4, 4, 1)
MOBILENETV2_STRIDES = (2, 2, 2, 1, 2, 1)


def _published_frame(
    name: str, first_conv: int, first_block: int, widths: Sequence[int], mix: int
) -> Skeleton:
    return Skeleton(first_conv, first_block, widths, MOBILENETV2_DEPTHS, MOBILENETV2_STRIDES, mix, name)


SKELETONS: dict[str, Skeleton] = {
    # The search skeleton of ProxylessNAS (DESIGN §6).
    "mobilenetv2": _published_frame("mobilenetv2", 32, 16, (24, 40, 80, 96, 192, 320), MOBILENETV2_MIX),
    # The widths of the three released ProxylessNAS nets (see docs/spaces/proxyless-mbv2.md).
    "proxyless_gpu": _published_frame("proxyless_gpu", 40, 24, (32, 56, 112, 128, 256, 432), 1728),
    "proxyless_cpu": _published_frame("proxyless_cpu", 40, 24, (32, 48, 88, 104, 216, 360), 1432),
    "proxyless_mobile": _published_frame("proxyless_mobile", 32, 16, (32, 40, 80, 96, 192, 320), 1280),
}


def skeleton_from_json(data: Any) -> Skeleton:
    """A skeleton from a registered name or an explicit JSON object (``name`` optional)."""
    if isinstance(data, str):
        if data not in SKELETONS:
            raise ArchitectureError(f"unknown skeleton {data!r}; known: {', '.join(SKELETONS)}")
        return SKELETONS[data]
    if not isinstance(data, dict):
        raise ArchitectureError(f"skeleton must be a name or an object, got {type(data).__name__}")
    fields = ("first_conv", "first_block", "widths", "depths", "strides", "feature_mix")
    missing = [f for f in fields if f not in data]
    unknown = sorted(set(data) - set(fields) - {"name"})
    if missing or unknown:
        problem = f"lacks {', '.join(missing)}" if missing else f"has unknown keys {', '.join(unknown)}"
        raise ArchitectureError(f"skeleton {problem}")
    for key in ("widths", "depths", "strides"):
        if not isinstance(data[key], list):
            raise ArchitectureError(f"skeleton {key} must be a list, got {data[key]!r}")
    name = data.get("name", "")
    if not isinstance(name, str):
        raise ArchitectureError(f"skeleton name must be a string, got {name!r}")
    return Skeleton(
        data["first_conv"], data["first_block"], data["widths"], data["depths"], data["strides"],
        data["feature_mix"], name,
    )


@attrs.frozen
class BlockSpec:
    """Concrete shape of one searchable block."""

    index: int
    stage: int
    in_chs: int
    out_chs: int
    stride: int
    zero_allowed: bool

    @property
    def key(self) -> str:
        """The decision key of this block."""
        return f"block {self.index}"

    @property
    def has_shortcut(self) -> bool:
        """Identity shortcut around the block where shapes match (MobileNetV2's residual)."""
        return self.stride == 1 and self.in_chs == self.out_chs


@attrs.frozen
class Layout:
    """Everything needed to build one network: channels and strides after scaling and stem choice."""

    in_channels: int
    stem_width: int
    stem_stride: int
    first_block_width: int
    blocks: tuple[BlockSpec, ...]
    feature_mix: int


def scale_width(width: int, width_mult: float) -> int:
    from timm.layers import make_divisible  # imported late, as the blocks' builders import timm

    return make_divisible(width * width_mult, CHANNEL_DIVISOR)


def block_layout(skeleton: Skeleton, width_mult: float, cifar_stem: bool, in_channels: int) -> Layout:
    """Scale ``skeleton`` by ``width_mult``; a CIFAR stem drops the first two downsamplings.

    For 32×32 (and 8×8) inputs the ImageNet frame would shrink the map 32×; the
    CIFAR stem keeps stride 1 in the stem conv and in the first stage, 8× in all
    (the usual MobileNetV2-on-CIFAR adaptation).
    The feature-mix width grows with ``width_mult`` > 1 but never shrinks, as in ProxylessNAS.
    """
    stem_width = scale_width(skeleton.first_conv, width_mult)
    first_block_width = scale_width(skeleton.first_block, width_mult)
    blocks, index, in_chs = [], 1, first_block_width
    for stage, (width, depth, stride) in enumerate(zip(skeleton.widths, skeleton.depths, skeleton.strides)):
        out_chs = scale_width(width, width_mult)
        if cifar_stem and stage == 0:
            stride = 1
        for position in range(depth):
            blocks.append(
                BlockSpec(index, stage + 1, in_chs, out_chs, stride if position == 0 else 1,
                          skeleton.zero_allowed(index))
            )
            index += 1
            in_chs = out_chs
    mix = scale_width(skeleton.feature_mix, width_mult) if width_mult > 1.0 else skeleton.feature_mix
    return Layout(in_channels, stem_width, 1 if cifar_stem else 2, first_block_width, tuple(blocks), mix)
