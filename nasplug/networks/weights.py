"""A network's weights as safetensors, with the metadata that rebuilds the network around them.

``nasplug train`` writes ``model.safetensors`` after every epoch and ``nasplug export --format
safetensors`` writes one for any network; loading the weights needs only ``safetensors``, rebuilding
the network (:func:`load_safetensors`) needs nasplug and the space's plugin.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import nn

from nasplug.core.errors import NasplugError
from nasplug.core.space import DataShape, Genotype
from nasplug.networks.build import genotype_network
from nasplug.plugin import Hooks
from nasplug.runs.files import atomic_write, parse_json

WEIGHTS_FILE = "model.safetensors"
METADATA_FORMAT = "nasplug-network-1"


class WeightsError(NasplugError, RuntimeError):
    """A weights file cannot be read, is not one of nasplug's, or does not fit its network."""


def network_metadata(
    space: str, genotype: Genotype, options: Mapping[str, Any], dataset: str, data: DataShape
) -> dict[str, str]:
    """What rebuilds a network, as the string → string metadata a safetensors file holds."""
    return {
        "format": METADATA_FORMAT,
        "space": space,
        "genotype": json.dumps(genotype.to_json()),
        "network_options": json.dumps(dict(options)),
        "dataset": dataset,
        "data_shape": json.dumps(attrs.asdict(data)),
    }


def save_weights(path: Path, module: nn.Module, metadata: Mapping[str, str]) -> None:
    """Write ``module``'s state dict to ``path`` as safetensors, atomically, with ``metadata``."""
    from safetensors.torch import save

    state = {name: tensor.detach().cpu().contiguous() for name, tensor in module.state_dict().items()}
    blob = save(state, metadata=dict(metadata))
    atomic_write(path, lambda handle: handle.write(blob))


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file, or a WeightsError naming it."""
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for foreign or torn files
        raise WeightsError(f"{path}: not a readable safetensors file ({exc})") from exc


def load_weights_into(module: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Load ``state`` into ``module``, or a WeightsError naming ``source`` and the first mismatch."""
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise WeightsError(f"{source}: the weights do not fit the network ({first})") from exc


def load_safetensors(path: str | Path, hooks: Hooks) -> nn.Module:
    """Rebuild the network saved by ``nasplug export --format safetensors`` or ``nasplug train``, in eval mode."""
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except Exception as exc:  # foreign or torn file
        raise WeightsError(f"{path}: not a readable safetensors file ({exc})") from exc
    if metadata.get("format") != METADATA_FORMAT:
        raise WeightsError(f"{path}: no nasplug network metadata (format {metadata.get('format')!r})")
    try:
        entry = hooks.space_entry(metadata["space"])
        stored = {key: parse_json(metadata[key], f"{path} metadata {key!r}", WeightsError, "nasplug network")
                  for key in ("genotype", "data_shape", "network_options")}
        genotype = entry.cls.parse_genotype(stored["genotype"], str(path))
        data = DataShape(**stored["data_shape"])
    except (KeyError, TypeError) as exc:
        raise WeightsError(f"{path}: damaged nasplug network metadata ({type(exc).__name__}: {exc})") from exc
    module = genotype_network(entry, genotype, data, stored["network_options"])
    load_weights_into(module, read_weights(path), str(path))
    return module.eval()
