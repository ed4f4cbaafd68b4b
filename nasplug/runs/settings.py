"""The settings a run command declares: one row per setting, read by the Python API and the command line.

``nasplug.search.settings`` and ``nasplug.train.settings`` each declare their command's table once;
``nasplug.api`` accepts exactly those keywords and checks them, and ``nasplug.cli`` turns each row
into the click option of the same name, so a setting's name, default and help are written in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import click


@attrs.frozen
class Setting:
    """One setting: its Python keyword, type and default, its help, and how the command line parses it.

    ``default`` is what applies where neither the caller nor a recipe sets the setting (None: it is
    decided elsewhere, which ``help`` says: the dataset, the recipe, the device); ``--help`` shows
    it. ``field`` is the configuration field the setting sets (None: the API turns the value into
    configuration itself, as for a space's or network's option). ``flag`` holds click.option's
    further keywords (``type``, ``metavar``); a bool setting is a ``--NAME/--no-NAME`` switch.
    """

    name: str
    type: Any
    help: str | None
    default: Any = None
    field: str | None = attrs.field(default=attrs.Factory(lambda self: self.name, takes_self=True))
    flag: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def option(self) -> str:
        """The command line's flag: ``--data-dir`` for ``data_dir``."""
        return "--" + self.name.replace("_", "-")

    @property
    def switch(self) -> bool:
        """A ``--NAME/--no-NAME`` pair: the setting is a bool."""
        return self.type is bool


def field_default(cls: type, name: str) -> Any:
    """The default of attrs class ``cls``'s field ``name``: a setting's default read where it is defined."""
    return attrs.fields_dict(cls)[name].default


def device_settings(config: type) -> tuple[Setting, ...]:
    """The settings of where and how every run command computes (``--device``, ``--amp``,
    ``--channels-last``, ``--workers``), with their defaults read from ``config``'s fields."""
    return (
        Setting("device", str, "auto, cpu, cuda or cuda:N.", field_default(config, "device")),
        Setting("amp", bool, "bf16 autocast of the forwards  [default: on for CUDA]"),
        Setting("channels_last", bool, "NHWC memory  [default: on for CUDA]"),
        Setting("workers", int, "Data loader workers.", field_default(config, "num_workers"), field="num_workers",
                flag={"type": click.IntRange(min=0)}),
    )
