"""Genotype → plain ``nn.Module``: the standalone network of a searched or published architecture."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import nn

from nasplug.core.errors import NasplugError
from nasplug.networks.genotypes import load_genotype
from nasplug.core.options import resolve_options
from nasplug.plugin import Hooks, SpaceEntry
from nasplug.core.space import DataShape, Genotype
from nasplug.data.preprocessing import Preprocessing
from nasplug.runs.network_size import NetworkTooLargeError, build_within_memory


@attrs.frozen
class BuiltNetwork:
    """The network with everything needed to rebuild it: space, genotype, data shape, network options.

    ``trained``: the weights were trained (a training folder's), not freshly initialised;
    ``preprocessing``: the dataset's test pipeline, where known (what an export carries).
    """

    module: nn.Module
    space: SpaceEntry
    genotype: Genotype
    dataset: str
    data: DataShape
    options: dict[str, Any]
    trained: bool = False
    preprocessing: Preprocessing | None = None


def build_network(
    reference: str,
    *,
    dataset: str | None = None,
    data_dir: str | Path | None = None,
    input_size: int | None = None,
    space: str | None = None,
    options: Mapping[str, Any] | None = None,
    shape: DataShape | None = None,
    hooks: Hooks,
) -> BuiltNetwork:
    """Build the standalone network of ``reference`` (a genotype file, run directory or published name).

    ``dataset`` sets classes, channels and input size (default: the space's
    ``default_dataset``, the one its published figures are for; ``data_dir`` where the
    shape comes from files, as a folder dataset's); ``options`` are the
    space's network options (e.g. ``layers``, ``channels``, ``auxiliary`` for
    darts-cell), strings or typed values. ``hooks`` is the run's plugin manager: the space and the
    dataset are looked up there. ``shape``, a user's own dataset's, replaces the lookup.
    """
    entry, genotype = load_genotype(reference, hooks, space)
    dataset = dataset or entry.cls.default_dataset
    data = shape if shape is not None else hooks.dataset_shape(dataset, data_dir)
    if input_size is not None:
        data = attrs.evolve(data, input_size=input_size)
    resolved = resolve_options(entry.cls.network_options, dict(options or {}), f"the {entry.name} network")
    return BuiltNetwork(genotype_network(entry, genotype, data, resolved), entry, genotype, dataset, data, resolved)


def genotype_network(entry: SpaceEntry, genotype: Genotype, data: DataShape, options: Mapping[str, Any],
                     device: torch.device = torch.device("cpu")) -> nn.Module:
    """The standalone network of ``genotype`` in ``entry``'s space for ``data``, with network ``options``
    already resolved: the one place nasplug builds one (info, export, training, loading weights).

    A network needs only its genotype and network options, so the space is built with its defaults; a
    network too large for memory (this machine's, or ``device``'s for training) is a one-line error
    naming ``options``.
    """
    space = entry.cls(data, resolve_options(entry.cls.options, {}, f"space {entry.name!r}"))
    return allocate(lambda: space.build_network(genotype, options), f"the {entry.name} network", options, device)


class NetworkSizeError(NasplugError, MemoryError):
    """A network's weights do not fit in memory; the message names the options that set its size."""


def allocate(build: Callable[[], nn.Module], what: str, options: Mapping[str, Any],
             device: torch.device = torch.device("cpu")) -> nn.Module:
    """``build()``, with an allocation failure turned into one line naming ``what`` and its ``options``.

    A network that could not be built in this machine's memory, or trained in ``device``'s (where it goes
    next), is refused before it is allocated (nasplug.runs.network_size).
    """
    described = ", ".join(f"{key}={value}" for key, value in options.items())
    try:
        return build_within_memory(build, f"{what} ({described})", device, "lower its width or depth")
    except NetworkTooLargeError:
        raise
    except (MemoryError, RuntimeError) as exc:
        if not isinstance(exc, MemoryError) and "allocate" not in str(exc):
            raise
        raise NetworkSizeError(f"{what} ({described}) does not fit in memory; lower its width or "
                               f"depth") from exc
