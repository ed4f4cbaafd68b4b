"""How an image becomes a network's input, recorded so an exported network can be used without nasplug.

Every built-in dataset's loader states its test pipeline as a :class:`Preprocessing`: divide the raw
pixels by ``pixel_scale``, resize the shorter side to ``resize_shorter_side``, centre-crop
``input_size``, subtract ``mean`` and divide by ``std`` per channel. Runs keep it in their folder and
exports carry it (nasplug.networks.export_metadata; docs/train.md shows how to apply it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from nasplug.core.schema import field_problems

CHANNEL_ORDERS = ("RGB", "L")
"""``RGB``: three channels, red first; ``L``: one grey channel."""


def _floats(values: Any) -> tuple[float, ...]:
    return tuple(float(value) for value in values)


@attrs.frozen
class Preprocessing:
    """A dataset's test pipeline, step by step, and the names of its classes in label order."""

    BOUNDS: ClassVar[dict[str, tuple[float, float]]] = {
        "pixel_scale": (1, 2**32), "resize_shorter_side": (1, 65_536), "input_size": (1, 65_536),
        "mean": (-1e6, 1e6), "std": (1e-12, 1e6)}
    """Every numeric field's inclusive range (nasplug.core.schema), checked when preprocessing.json is read."""

    channel_order: str
    pixel_scale: float
    resize_shorter_side: int
    input_size: int
    mean: tuple[float, ...] = attrs.field(converter=_floats)
    std: tuple[float, ...] = attrs.field(converter=_floats)
    classes: tuple[str, ...] = attrs.field(converter=lambda names: tuple(str(name) for name in names))

    def __attrs_post_init__(self) -> None:
        problems = field_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        channels = 3 if self.channel_order == "RGB" else 1
        if self.channel_order not in CHANNEL_ORDERS or len(self.mean) != channels or len(self.std) != channels:
            raise ValueError(f"channel order {self.channel_order!r} with {len(self.mean)} means and "
                             f"{len(self.std)} deviations")

    def to_json(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "mean": list(self.mean), "std": list(self.std),
                "classes": list(self.classes)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Preprocessing:
        """Read back :meth:`to_json`'s object (ValueError or TypeError where it is not one)."""
        return cls(**{field.name: data[field.name] for field in attrs.fields(cls)})
