"""Genotype → plain ``nn.Module``: the standalone network of a searched or published architecture."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
from torch import nn

from nasplug.data import dataset_shape
from nasplug.core.errors import NasplugError
from nasplug.networks.genotypes import load_genotype
from nasplug.core.options import resolve_options
from nasplug.plugin.manager import Hooks, SpaceEntry, load_plugins
from nasplug.core.space import DataShape, Genotype


@attrs.frozen
class BuiltNetwork:
    """The network with everything needed to rebuild it: space, genotype, data shape, network options."""

    module: nn.Module
    space: SpaceEntry
    genotype: Genotype
    dataset: str
    data: DataShape
    options: dict[str, Any]


def build_network(
    reference: str,
    *,
    dataset: str | None = None,
    data_dir: str | Path | None = None,
    input_size: int | None = None,
    space: str | None = None,
    options: Mapping[str, Any] | None = None,
    hooks: Hooks | None = None,
) -> BuiltNetwork:
    """Build the standalone network of ``reference`` (a genotype file, run directory or published name).

    ``dataset`` sets classes, channels and input size (default: the space's
    ``default_dataset``, the one its published figures are for; ``data_dir`` where the
    shape comes from files, as a folder dataset's); ``options`` are the
    space's network options (e.g. ``layers``, ``channels``, ``auxiliary`` for
    darts-cell), strings or typed values.
    """
    hooks = hooks or load_plugins()
    entry, genotype = load_genotype(reference, hooks, space)
    dataset = dataset or entry.cls.default_dataset
    data = dataset_shape(dataset, data_dir, hooks=hooks)
    if input_size is not None:
        data = attrs.evolve(data, input_size=input_size)
    resolved = resolve_options(entry.cls.network_options, dict(options or {}), f"the {entry.name} network")
    instance = entry.cls(data, resolve_options(entry.cls.options, {}, entry.name))
    module = allocate(lambda: instance.build_network(genotype, resolved), f"the {entry.name} network",
                      resolved)
    return BuiltNetwork(module, entry, genotype, dataset, data, resolved)


class NetworkSizeError(NasplugError, MemoryError):
    """A network's weights do not fit in memory; the message names the options that set its size."""


def allocate(build: Callable[[], nn.Module], what: str, options: Mapping[str, Any]) -> nn.Module:
    """``build()``, with an allocation failure turned into one line naming ``what`` and its ``options``."""
    try:
        return build()
    except (MemoryError, RuntimeError) as exc:
        if not isinstance(exc, MemoryError) and "allocate" not in str(exc):
            raise
        described = ", ".join(f"{key}={value}" for key, value in options.items())
        raise NetworkSizeError(f"{what} ({described}) does not fit in memory; lower its width or "
                               f"depth") from exc
