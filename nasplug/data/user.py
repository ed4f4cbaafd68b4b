"""A user's own ``torch.utils.data.Dataset`` as a DataBundle the engine can search on (Python API)."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import Dataset, Subset

from nasplug.data.bundle import DataBundle, DatasetError
from nasplug.core.space import DataShape


def as_bundle(data: DataBundle | Dataset, num_classes: int | None = None) -> DataBundle:
    """``data`` itself if it is a DataBundle, else a bundle whose training set is ``data`` (no test set).

    Items must be ``(C×H×W tensor, label)`` with square images. The number of classes is
    ``num_classes``, else ``len(data.classes)``, else one more than the largest of ``data.targets``.
    """
    if isinstance(data, DataBundle):
        return data
    if not isinstance(data, Dataset):
        raise DatasetError(f"data must be a torch.utils.data.Dataset or a nasplug DataBundle, "
                           f"not {type(data).__name__}")
    name = type(data).__name__
    try:
        image, _ = data[0]
    except Exception as error:  # whatever the user's __getitem__ raises
        raise DatasetError(f"cannot read item 0 of the {name} dataset as (image, label): "
                           f"{type(error).__name__}: {error}") from error
    if not (isinstance(image, torch.Tensor) and image.ndim == 3 and image.shape[1] == image.shape[2]):
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise DatasetError(f"the {name} dataset's images must be square C×H×W tensors, got {shape}")
    classes = num_classes or _count_classes(data)
    if classes is None:
        raise DatasetError(f"cannot tell how many classes the {name} dataset has: give it a `classes` "
                           f"attribute or pass num_classes")
    shape = DataShape(num_classes=classes, in_channels=int(image.shape[0]), input_size=int(image.shape[1]))
    return DataBundle(name=name, train=data, test=Subset(data, []), shape=shape)


def _count_classes(data: Any) -> int | None:
    if getattr(data, "classes", None) is not None:
        return len(data.classes)
    if getattr(data, "targets", None) is not None:
        return int(torch.as_tensor(data.targets).max()) + 1
    return None


def training_bundle(data: DataBundle | Dataset | tuple[Dataset, Dataset]) -> DataBundle:
    """A user's data to train a network on: a DataBundle, or a ``(train, test)`` pair of Datasets.

    A training reports accuracy on a test split, so a single Dataset (which :func:`as_bundle` gives
    no test split) is refused in one line saying what to pass instead.
    """
    if isinstance(data, tuple):
        if len(data) != 2:
            raise DatasetError(f"data as a tuple must be (train, test) Datasets, got {len(data)} items")
        train = as_bundle(data[0])
        test = as_bundle(data[1], train.shape.num_classes)
        if test.shape != train.shape:
            raise DatasetError(f"the test set's images or classes ({test.shape}) differ from the training "
                               f"set's ({train.shape})")
        return DataBundle(name=train.name, train=train.train, test=test.train, shape=train.shape)
    bundle = as_bundle(data)
    if len(bundle.test) == 0:
        raise DatasetError(f"training on the {bundle.name} dataset needs a test split to report on: pass "
                           f"data=(train, test) or a DataBundle")
    return bundle
