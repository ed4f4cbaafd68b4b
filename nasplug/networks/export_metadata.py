"""What an exported network carries besides its weights: how to prepare its input, its classes, whether
it was trained.

A run folder keeps its dataset's :class:`~nasplug.data.preprocessing.Preprocessing` as
``preprocessing.json``; an export stores it as the JSON string ``preprocessing`` in the safetensors
metadata and the ONNX ``metadata_props``, and beside a pt2 file as ``<name>.json``, with ``trained``
(``"true"``/``"false"``) and the dataset's name. docs/train.md shows how to read them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from nasplug.core.errors import NasplugError
from nasplug.data import DatasetError
from nasplug.data.preprocessing import Preprocessing
from nasplug.plugin import Hooks
from nasplug.runs.files import read_json_file, write_json

PREPROCESSING_FILE = "preprocessing.json"


class PreprocessingError(NasplugError, ValueError):
    """A run folder's ``preprocessing.json`` cannot be read; the message names it."""


def write_run_preprocessing(folder: Path, preprocessing: Preprocessing | None) -> None:
    """Keep the run's preprocessing in its folder (nothing where the dataset states none)."""
    if preprocessing is not None:
        write_json(Path(folder) / PREPROCESSING_FILE, preprocessing.to_json())


def read_run_preprocessing(folder: Path) -> Preprocessing | None:
    """The preprocessing a run folder kept, or None where it kept none (a run from before this file)."""
    path = Path(folder) / PREPROCESSING_FILE
    if not path.is_file():
        return None
    data = read_json_file(path, PreprocessingError, "preprocessing record")
    try:
        return Preprocessing.from_json(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise PreprocessingError(f"{path}: not a preprocessing record ({exc})") from exc


def dataset_preprocessing(dataset: str, data_dir: str | Path | None, input_size: int | None,
                          hooks: Hooks) -> Preprocessing | None:
    """The preprocessing of ``dataset`` as loaded for a run, or None where its files cannot be read here."""
    try:
        bundle = hooks.load_dataset(dataset, data_dir, augment=False, download=False, input_size=input_size)
    except DatasetError:
        return None
    return bundle.preprocessing


def export_metadata(dataset: str, trained: bool, preprocessing: Preprocessing | None) -> dict[str, str]:
    """The string → string entries every export carries (safetensors metadata, ONNX metadata_props, pt2's
    JSON beside it)."""
    entries = {"dataset": dataset, "trained": "true" if trained else "false"}
    if preprocessing is not None:
        entries["preprocessing"] = json.dumps(preprocessing.to_json())
    return entries


def sidecar_path(path: Path) -> Path:
    """Where a pt2 export's metadata goes: ``net.pt2`` → ``net.json``."""
    return Path(path).with_suffix(".json")


def write_sidecar(path: Path, metadata: Mapping[str, str]) -> Path:
    """The metadata beside ``path`` as JSON, the preprocessing as an object rather than a string."""
    data: dict[str, object] = dict(metadata)
    if "preprocessing" in metadata:
        data["preprocessing"] = json.loads(metadata["preprocessing"])
    target = sidecar_path(path)
    write_json(target, data)
    return target
