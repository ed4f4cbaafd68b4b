"""Datasets for search and retraining, and the deterministic loaders both use.

:func:`load_dataset` returns a :class:`DataBundle` (train set, test set, data
shape); :func:`split_indices` cuts the search split out of the training set;
:func:`make_loader` yields batches in an order fixed by (seed, epoch), so a
resumed run sees exactly the batches it would have seen. docs/datasets.md
describes each dataset, where its files go and the choices made.
"""

from __future__ import annotations

from pathlib import Path

from nasplug.data.bundle import DataBundle, DatasetError, TensorImages
from nasplug.data.loaders import EpochSampler, make_loader, split_indices, split_off
from nasplug.data.transforms import Cutout
from nasplug.space import DataShape

__all__ = [
    "DATASETS",
    "DEFAULT_DATA_DIR",
    "NORMALISATIONS",
    "Cutout",
    "DataBundle",
    "DatasetError",
    "EpochSampler",
    "TensorImages",
    "dataset_shape",
    "load_dataset",
    "make_loader",
    "split_indices",
    "split_off",
]

_SHAPES = {
    "digits": DataShape(num_classes=10, in_channels=1, input_size=8),
    "cifar10": DataShape(num_classes=10, in_channels=3, input_size=32),
    "cifar100": DataShape(num_classes=100, in_channels=3, input_size=32),
    "imagenet": DataShape(num_classes=1000, in_channels=3, input_size=224),
}
DATASETS: tuple[str, ...] = tuple(_SHAPES)
NORMALISATIONS: tuple[str, ...] = ("dataset", "symmetric")
"""``dataset``: per-channel mean and std of the dataset (DARTS); ``symmetric``: pixels mapped to [-1, 1]."""
SYMMETRIC = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
"""(mean, std) that map [0, 1] pixels onto [-1, 1] (MdeNAS §5.1.2)."""
DEFAULT_DATA_DIR = Path("~/.cache/nasplug/data")


def dataset_shape(name: str) -> DataShape:
    """The nominal shape of dataset ``name`` without loading it (ImageNet: its 1000 classes at 224 px)."""
    return _SHAPES[_known(name)]


def load_dataset(
    name: str,
    data_dir: str | Path | None = None,
    *,
    augment: bool = True,
    cutout: int = 0,
    download: bool = True,
    input_size: int | None = None,
    normalisation: str = "dataset",
) -> DataBundle:
    """Dataset ``name`` (one of :data:`DATASETS`), files under ``data_dir`` (default ``DEFAULT_DATA_DIR``).

    ``augment`` turns on the dataset's training augmentation and ``cutout`` (a
    square side in pixels, 0 for none) adds Cutout to it; the test set is never
    augmented. ``download`` lets CIFAR fetch its archive when missing.
    ``input_size`` resizes the images (default: the dataset's own size).
    ``normalisation`` is one of :data:`NORMALISATIONS` (``symmetric``: CIFAR and ImageNet only).
    """
    name = _known(name)
    if cutout < 0:
        raise DatasetError(f"the cutout length cannot be negative, got {cutout}")
    if cutout and not augment:
        raise DatasetError("cutout is a training augmentation; it needs augmentation turned on")
    if input_size is not None and input_size < 1:
        raise DatasetError(f"the input size must be a positive number of pixels, got {input_size}")
    if normalisation not in NORMALISATIONS:
        raise DatasetError(f"unknown normalisation {normalisation!r}; choose one of {', '.join(NORMALISATIONS)}")
    statistics = SYMMETRIC if normalisation == "symmetric" else None
    if statistics is not None and name == "digits":
        raise DatasetError("the digits are grey images normalised with their own statistics; "
                           "the symmetric normalisation applies to CIFAR and ImageNet")
    root = Path(data_dir if data_dir is not None else DEFAULT_DATA_DIR).expanduser()
    # Each loader is imported on use: torchvision and scikit-learn take seconds to import,
    # and commands that only need dataset_shape (nasplug info, show) should not wait for them.
    if name == "digits":
        from nasplug.data.digits import load_digits

        return load_digits(augment=augment, cutout=cutout, input_size=input_size)
    if name == "imagenet":
        from nasplug.data.imagenet import load_imagenet

        return load_imagenet(root, augment=augment, cutout=cutout, input_size=input_size, statistics=statistics)
    from nasplug.data.cifar import load_cifar

    return load_cifar(name, root, augment=augment, cutout=cutout, download=download, input_size=input_size,
                      statistics=statistics)


def _known(name: str) -> str:
    key = name.lower()
    if key not in _SHAPES:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return key
