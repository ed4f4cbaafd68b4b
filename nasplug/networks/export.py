"""Getting a network out of nasplug: ``model.safetensors``, a ``torch.export`` program, an ONNX graph.

The network comes built (nasplug.networks.build for a genotype's fresh weights,
nasplug.train.trained for a training directory's trained ones). Every format is exported in eval mode
(logits only; no auxiliary head, no drop-path), with a dynamic batch dimension:

* ``pt2``: ``torch.export.load(path).module()(x)``, plain PyTorch, no nasplug;
* ``onnx``: any ONNX runtime (needs the ``onnx`` and ``onnxscript`` packages);
* ``safetensors``: the weights, plus in the file's metadata everything
  :func:`load_safetensors` needs to rebuild the network (space, genotype,
  network options, data shape). Loading the weights needs only ``safetensors``.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import torch

from nasplug.core.errors import NasplugError
from nasplug.core.space import DataShape
from nasplug.networks.build import BuiltNetwork
from nasplug.networks.weights import network_metadata, save_weights
from nasplug.runs.files import atomic_write

FORMATS = ("pt2", "onnx", "safetensors")
SUFFIXES = {"pt2": ".pt2", "onnx": ".onnx", "safetensors": ".safetensors"}


class ExportError(NasplugError, RuntimeError):
    """A network cannot be exported; the message says which format and why."""


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
