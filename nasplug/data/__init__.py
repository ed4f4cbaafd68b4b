"""Datasets for search and retraining, and the deterministic loaders both use.

A run loads a dataset through its plugin manager (``Hooks.load_dataset``), which
checks the options with :func:`dataset_options` and returns a :class:`DataBundle`
(train set, test set, data shape); :func:`split_indices` cuts the search split out of the training set;
:func:`make_loader` yields batches in an order fixed by (seed, epoch), so a
resumed run sees exactly the batches it would have seen. docs/datasets.md
describes each dataset, where its files go and the choices made.
"""

from __future__ import annotations

from typing import Any

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
    "dataset_options",
    "make_loader",
    "split_indices",
    "split_off",
    "with_transform",
]

DATASETS: tuple[str, ...] = tuple(BUILTIN_DATASETS)
"""The datasets nasplug itself provides; plugins add more (``nasplug plugins`` lists them all)."""


def dataset_options(**options: Any) -> DatasetOptions:
    """:class:`DatasetOptions` from keywords (its defaults for the rest), checked: a value out of range is
    a one-line DatasetError.

    ``augment`` turns on the dataset's training augmentation and ``cutout`` (a
    square side in pixels, 0 for none) adds Cutout to it; the test set is never
    augmented. ``download`` lets CIFAR fetch its archive when missing.
    ``input_size`` resizes the images (default: the dataset's own size).
    ``normalisation`` is one of :data:`NORMALISATIONS` (``symmetric``: CIFAR and ImageNet only).
    """
    checked = DatasetOptions(**options)
    if checked.cutout < 0:
        raise DatasetError(f"the cutout length cannot be negative, got {checked.cutout}")
    if checked.cutout and not checked.augment:
        raise DatasetError("cutout is a training augmentation; it needs augmentation turned on")
    if checked.input_size is not None and checked.input_size < 1:
        raise DatasetError(f"the input size must be a positive number of pixels, got {checked.input_size}")
    if checked.normalisation not in NORMALISATIONS:
        raise DatasetError(f"unknown normalisation {checked.normalisation!r}; choose one of "
                           f"{', '.join(NORMALISATIONS)}")
    return checked
