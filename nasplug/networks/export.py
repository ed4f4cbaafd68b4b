"""Getting a network out of nasplug: ``model.safetensors``, a ``torch.export`` program, an ONNX graph.

A network is given as a genotype reference (file, run directory, published
name: freshly initialised weights, seeded) or a training directory (its
trained weights). Every format is exported in eval mode (logits only; no
auxiliary head, no drop-path), with a dynamic batch dimension:

* ``pt2``: ``torch.export.load(path).module()(x)``, plain PyTorch, no nasplug;
* ``onnx``: any ONNX runtime (needs the ``onnx`` and ``onnxscript`` packages);
* ``safetensors``: the weights, plus in the file's metadata everything
  :func:`load_safetensors` needs to rebuild the network (space, genotype,
  network options, data shape). Loading the weights needs only ``safetensors``.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import nn

from nasplug.runs.checkpoint import atomic_write, load_checkpoint
from nasplug.data import dataset_shape
from nasplug.core.errors import NasplugError
from nasplug.networks.build import BuiltNetwork, build_network
from nasplug.core.options import resolve_options
from nasplug.plugin.manager import Hooks, load_plugins
from nasplug.core.space import DataShape, Genotype

FORMATS = ("pt2", "onnx", "safetensors")
SUFFIXES = {"pt2": ".pt2", "onnx": ".onnx", "safetensors": ".safetensors"}
WEIGHTS_FILE = "model.safetensors"
METADATA_FORMAT = "nasplug-network-1"


class ExportError(NasplugError, RuntimeError):
    """A network cannot be exported or rebuilt; the message says which file or format and why."""


def is_training_dir(path: Path) -> bool:
    """A ``nasplug train`` output: a folder whose config.json is a training configuration."""
    config = path / "config.json"
    if not (path.is_dir() and config.is_file()):
        return False
    try:
        data = json.loads(config.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and "network_options" in data and "genotype" in data


def trained_network(out_dir: Path, hooks: Hooks | None = None) -> BuiltNetwork:
    """The network of training directory ``out_dir`` with its latest weights.

    The weights are ``model.safetensors`` if present, else the latest checkpoint's.
    """
    from nasplug.search.engine import checkpoint_paths
    from nasplug.train.trainer import read_config

    hooks = hooks or load_plugins()
    config = read_config(out_dir)
    entry = hooks.space_entry(config.space)
    genotype = entry.cls.parse_genotype(config.genotype, f"the genotype of {out_dir / 'config.json'}")
    data = dataset_shape(config.dataset)
    if config.input_size is not None:
        data = attrs.evolve(data, input_size=config.input_size)
    space = entry.cls(data, resolve_options(entry.cls.options, {}, entry.name))
    module = space.build_network(genotype, config.network_options)
    if (out_dir / WEIGHTS_FILE).is_file():
        state = _read_weights(out_dir / WEIGHTS_FILE)
    elif checkpoint_paths(out_dir):
        state = load_checkpoint(checkpoint_paths(out_dir)[-1])["model"]
    else:
        raise ExportError(f"{out_dir}: no trained weights yet (no {WEIGHTS_FILE}, no checkpoint)")
    _load_state(module, state, str(out_dir))
    return BuiltNetwork(module, entry, genotype, config.dataset, data, dict(config.network_options))


def network_for(reference: str, **build: Any) -> BuiltNetwork:
    """A training directory's trained network, or a genotype reference's freshly built one."""
    path = Path(reference)
    if is_training_dir(path):
        given = [name for name, value in build.items() if value not in (None, {}) and name != "hooks"]
        if given:
            raise ExportError(f"{reference} is a training directory: its network is fixed; drop "
                              f"{', '.join('--' + name.replace('_', '-') for name in given)}")
        return trained_network(path, build.get("hooks"))
    return build_network(reference, **build)


def _load_state(module: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ExportError(f"{source}: the weights do not fit the network ({first})") from exc


# ---------------------------------------------------------------------------- safetensors


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


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for foreign or torn files
        raise ExportError(f"{path}: not a readable safetensors file ({exc})") from exc


def load_safetensors(path: str | Path, hooks: Hooks | None = None) -> nn.Module:
    """Rebuild the network saved by ``nasplug export --format safetensors`` or ``nasplug train``."""
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except Exception as exc:  # foreign or torn file
        raise ExportError(f"{path}: not a readable safetensors file ({exc})") from exc
    if metadata.get("format") != METADATA_FORMAT:
        raise ExportError(f"{path}: no nasplug network metadata (format {metadata.get('format')!r})")
    hooks = hooks or load_plugins()
    entry = hooks.space_entry(metadata["space"])
    genotype = entry.cls.parse_genotype(json.loads(metadata["genotype"]), str(path))
    data = DataShape(**json.loads(metadata["data_shape"]))
    space = entry.cls(data, resolve_options(entry.cls.options, {}, entry.name))
    module = space.build_network(genotype, json.loads(metadata["network_options"]))
    _load_state(module, _read_weights(path), str(path))
    return module.eval()


# ---------------------------------------------------------------------------- programs


def example_input(data: DataShape, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, data.in_channels, data.input_size, data.input_size)


def export_network(built: BuiltNetwork, fmt: str, path: Path) -> Path:
    """Write ``built``'s network in ``fmt`` (one of :data:`FORMATS`) to ``path``, in eval mode."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; formats: {', '.join(FORMATS)}")
    module = built.module.eval()
    if fmt == "safetensors":
        save_weights(path, module, network_metadata(
            built.space.name, built.genotype, built.options, built.dataset, built.data))
        return path
    example = (example_input(built.data),)
    batch = ({0: torch.export.Dim.AUTO},)
    if fmt == "pt2":
        program = torch.export.export(module, example, dynamic_shapes=batch)
        buffer = io.BytesIO()
        torch.export.save(program, buffer)
        atomic_write(path, lambda handle: handle.write(buffer.getvalue()))
        return path
    _check_onnx_installed()
    with contextlib.redirect_stdout(io.StringIO()):  # the exporter narrates each of its passes
        program = torch.onnx.export(module, example, dynamic_shapes=batch, input_names=["images"],
                                    output_names=["logits"], verbose=False)
    blob = program.model_proto.SerializeToString()
    atomic_write(path, lambda handle: handle.write(blob))
    return path


def _check_onnx_installed() -> None:
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as exc:
        raise ExportError(f"--format onnx needs the onnx and onnxscript packages ({exc.name} is missing): "
                          f"pip install 'nasplug[export]'") from exc
