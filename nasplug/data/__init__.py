"""Datasets for search and retraining, and the deterministic loaders both use.

:func:`load_dataset` returns a :class:`DataBundle` (train set, test set, data
shape); :func:`split_indices` cuts the search split out of the training set;
:func:`make_loader` yields batches in an order fixed by (seed, epoch), so a
resumed run sees exactly the batches it would have seen. docs/datasets.md
describes each dataset, where its files go and the choices made.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from nasplug.data.bundle import (
    DataBundle,
    DatasetError,
    DatasetInfo,
    DatasetOptions,
    TensorImages,
    with_transform,
)
from nasplug.data.builtin import BUILTIN_DATASETS, DEFAULT_DATA_DIR, NORMALISATIONS
from nasplug.data.loaders import EpochSampler, make_loader, split_indices, split_off
from nasplug.data.transforms import Cutout
from nasplug.core.space import DataShape

if TYPE_CHECKING:
    from nasplug.plugin.manager import Hooks

__all__ = [
    "DATASETS",
    "DEFAULT_DATA_DIR",
    "NORMALISATIONS",
    "Cutout",
    "DataBundle",
    "DatasetError",
    "DatasetInfo",
    "DatasetOptions",
    "EpochSampler",
    "TensorImages",
    "dataset_shape",
    "load_dataset",
    "make_loader",
    "split_indices",
    "split_off",
    "with_transform",
]

DATASETS: tuple[str, ...] = tuple(BUILTIN_DATASETS)
"""The datasets nasplug itself provides; plugins add more (``nasplug plugins`` lists them all)."""


def dataset_shape(name: str, data_dir: str | Path | None = None, *, hooks: Hooks | None = None) -> DataShape:
    """The shape of dataset ``name``: its nominal one without reading a file where it has one
    (ImageNet: 1000 classes at 224 px), otherwise that of the loaded files (a folder dataset)."""
    entry = _hooks(hooks).dataset_entry(name)
    if entry.info.shape is not None:
        return entry.info.shape
    return load_dataset(entry.name, data_dir, augment=False, download=False, hooks=hooks).shape


def load_dataset(
    name: str,
    data_dir: str | Path | None = None,
    *,
    augment: bool = True,
    cutout: int = 0,
    download: bool = True,
    input_size: int | None = None,
    hooks: Hooks | None = None,
    normalisation: str = "dataset",
) -> DataBundle:
    """Dataset ``name`` from the plugin providing it (built-ins: :data:`DATASETS`), files under ``data_dir``.

    ``augment`` turns on the dataset's training augmentation and ``cutout`` (a
    square side in pixels, 0 for none) adds Cutout to it; the test set is never
    augmented. ``download`` lets CIFAR fetch its archive when missing.
    ``input_size`` resizes the images (default: the dataset's own size).
    ``data_dir`` defaults to ``DEFAULT_DATA_DIR`` for the built-ins that keep files.
    ``normalisation`` is one of :data:`NORMALISATIONS` (``symmetric``: CIFAR and ImageNet only).
    """
    if cutout < 0:
        raise DatasetError(f"the cutout length cannot be negative, got {cutout}")
    if cutout and not augment:
        raise DatasetError("cutout is a training augmentation; it needs augmentation turned on")
    if input_size is not None and input_size < 1:
        raise DatasetError(f"the input size must be a positive number of pixels, got {input_size}")
    if normalisation not in NORMALISATIONS:
        raise DatasetError(f"unknown normalisation {normalisation!r}; choose one of {', '.join(NORMALISATIONS)}")
    options = DatasetOptions(augment=augment, cutout=cutout, download=download, input_size=input_size,
                             normalisation=normalisation)
    root = Path(data_dir).expanduser() if data_dir is not None else None
    return _hooks(hooks).build_dataset(name, root, options)


def _hooks(hooks: Hooks | None) -> Hooks:
    from nasplug.plugin.manager import load_plugins  # nasplug.plugin.manager imports the engine's data model

    return hooks if hooks is not None else load_plugins()
