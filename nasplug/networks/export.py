"""Getting a network out of nasplug: ``model.safetensors``, a ``torch.export`` program, an ONNX graph.

The network comes built (nasplug.networks.build for a genotype's fresh weights,
nasplug.train.trained for a training directory's trained ones). Every format is exported in eval mode
(logits only; no auxiliary head, no drop-path), with a dynamic batch dimension:

* ``pt2``: ``torch.export.load(path).module()(x)``, plain PyTorch, no nasplug;
* ``onnx``: any ONNX runtime (needs the ``onnx`` and ``onnxscript`` packages); the batch
  dimension of input ``images`` and output ``logits`` is named ``batch``;
* ``safetensors``: the weights, plus in the file's metadata everything
  :func:`load_safetensors` needs to rebuild the network (space, genotype,
  network options, data shape). Loading the weights needs only ``safetensors``.

Each carries how to prepare its input, its class names and whether it was trained
(nasplug.networks.export_metadata): in the safetensors metadata, the ONNX ``metadata_props``, and
beside a pt2 file as ``<name>.json``.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import torch

from nasplug.core.errors import NasplugError
from nasplug.core.space import DataShape
from nasplug.networks.build import BuiltNetwork
from nasplug.networks.export_metadata import export_metadata, sidecar_path, write_sidecar
from nasplug.networks.weights import network_metadata, save_weights
from nasplug.runs.files import atomic_write, refuse_overwrite

FORMATS = ("pt2", "onnx", "safetensors")
BATCH_DIMENSION = "batch"
"""The name of the exported graphs' dynamic batch dimension (ONNX's ``dim_param``)."""
SUFFIXES = {"pt2": ".pt2", "onnx": ".onnx", "safetensors": ".safetensors"}


class ExportError(NasplugError, RuntimeError):
    """A network cannot be exported; the message says which format and why."""


# ---------------------------------------------------------------------------- programs


def example_input(data: DataShape, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, data.in_channels, data.input_size, data.input_size)


def refuse_export_overwrite(fmt: str, path: Path, force: bool) -> None:
    """Refuse an export whose file, or a pt2's ``.json`` beside it, exists (unless ``force``); a pt2 export
    named ``.json`` would be its own metadata file and is always refused."""
    path = Path(path)
    if fmt == "pt2" and sidecar_path(path) == path:
        raise ExportError(f"{path}: a pt2 export keeps its metadata in NAME.json beside it; "
                          f"give --out another suffix (net.pt2)")
    refuse_overwrite(path, force)
    if fmt == "pt2":
        refuse_overwrite(sidecar_path(path), force)


def export_network(built: BuiltNetwork, fmt: str, path: Path) -> Path:
    """Write ``built``'s network in ``fmt`` (one of :data:`FORMATS`) to ``path``, in eval mode."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; formats: {', '.join(FORMATS)}")
    module = built.module.eval()
    carried = export_metadata(built.dataset, built.trained, built.preprocessing)
    if fmt == "safetensors":
        save_weights(path, module, {**network_metadata(
            built.space.name, built.genotype, built.options, built.dataset, built.data), **carried})
        return path
    example = (example_input(built.data),)
    batch = ({0: torch.export.Dim.AUTO},)
    if fmt == "pt2":
        program = torch.export.export(module, example, dynamic_shapes=batch)
        buffer = io.BytesIO()
        torch.export.save(program, buffer)
        atomic_write(path, lambda handle: handle.write(buffer.getvalue()))
        write_sidecar(path, carried)
        return path
    _check_onnx_installed()
    with contextlib.redirect_stdout(io.StringIO()):  # the exporter narrates each of its passes
        program = torch.onnx.export(module, example, dynamic_shapes=batch, input_names=["images"],
                                    output_names=["logits"], verbose=False)
    proto = program.model_proto
    _name_batch_dimension(proto)
    for key, value in carried.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    blob = proto.SerializeToString()
    atomic_write(path, lambda handle: handle.write(blob))
    return path


def _name_batch_dimension(proto: Any) -> None:
    """Rename the exporter's symbol for the batch dimension (``s77``, say) to :data:`BATCH_DIMENSION`."""
    symbol = proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param
    if not symbol:
        return
    described = [*proto.graph.input, *proto.graph.output, *proto.graph.value_info]
    for value in described:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param == symbol:
                dim.dim_param = BATCH_DIMENSION


def _check_onnx_installed() -> None:
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as exc:
        raise ExportError(f"--format onnx needs the onnx and onnxscript packages ({exc.name} is missing): "
                          f"pip install 'nasplug[export]'") from exc
