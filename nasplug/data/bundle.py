"""The dataset contract: what a loader is asked for and returns, its error type, in-memory image sets."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import torch
from torch.utils.data import Dataset

from nasplug.core.errors import NasplugError
from nasplug.core.space import DataShape
from nasplug.data.preprocessing import Preprocessing


class DatasetError(NasplugError, RuntimeError):
    """A dataset is unknown, missing, incomplete or damaged; the message says which file and what to do."""


def _channel_statistics(value: tuple[float, ...] | None) -> tuple[float, ...] | None:
    return None if value is None else tuple(float(v) for v in value)


@attrs.frozen(eq=False)
class TensorSource:
    """A dataset's training images as one tensor, with the recipe its host pipeline augments them by.

    ``images`` are ``N×C×H×W``: uint8 pixels, converted to [0, 1] and normalised with ``mean`` and
    ``std`` after cropping and flipping (the CIFAR pipeline), or floats already normalised (``mean``
    and ``std`` None: digits). ``padding`` > 0 crops each image at a uniformly random offset from it
    padded by that many pixels of ``fill`` (in the units of ``images``); ``flip`` mirrors half of
    them; ``cutout`` > 0 zeroes a square of that side after normalisation.
    """

    images: torch.Tensor
    labels: torch.Tensor
    padding: int = 0
    fill: float = 0.0
    flip: bool = False
    cutout: int = 0
    mean: tuple[float, ...] | None = attrs.field(default=None, converter=_channel_statistics)
    std: tuple[float, ...] | None = attrs.field(default=None, converter=_channel_statistics)

    def __attrs_post_init__(self) -> None:
        if self.images.ndim != 4 or len(self.images) != len(self.labels):
            raise ValueError(f"need N×C×H×W images and N labels, got {tuple(self.images.shape)} and "
                             f"{len(self.labels)}")
        pixels = self.images.dtype == torch.uint8
        if pixels != (self.mean is not None and self.std is not None):
            raise ValueError("uint8 images need mean and std; float images are normalised already (none)")
        if self.padding < 0 or self.cutout < 0:
            raise ValueError("padding and cutout cannot be negative")

    @property
    def nbytes(self) -> int:
        return sum(tensor.numel() * tensor.element_size() for tensor in (self.images, self.labels))


@attrs.frozen
class DataBundle:
    """One dataset ready for training: the (possibly augmented) train set, the plain test set, its shape.

    ``train_source``, where the dataset gives one, holds the train set's images as a tensor and its
    augmentation recipe, so a search can keep the split on its device (nasplug.data.device); None:
    the DataLoader path only (image folders, ImageNet). ``train_plain`` holds the same training
    images in the same order through the test pipeline (no augmentation): a search evaluates its
    derived architecture on it. None: the dataset has no such view and ``train`` serves as it is.
    ``preprocessing`` states the test pipeline for exports (None: not known, as for a user's Dataset).
    """

    name: str
    train: Dataset
    test: Dataset
    shape: DataShape
    train_source: TensorSource | None = None
    train_plain: Dataset | None = None
    preprocessing: Preprocessing | None = None


def with_transform(dataset: Any, transform: Callable[[Any], Any] | None) -> Any:
    """A shallow copy of ``dataset`` that applies ``transform`` to its images instead of its own.

    The copy shares the images or the file list, so a plain view of a training set costs nothing.
    ``dataset`` must keep its image transform in ``transform`` (nasplug's in-memory and folder sets,
    torchvision's); torchvision datasets that apply the ``transforms`` pair get that pair rebuilt.
    """
    if not hasattr(dataset, "transform"):
        raise TypeError(f"{type(dataset).__name__} has no `transform` attribute to replace")
    view = copy.copy(dataset)
    view.transform = transform
    if hasattr(view, "transforms"):
        from torchvision.datasets.vision import StandardTransform  # imported only for torchvision sets

        view.transforms = StandardTransform(transform, getattr(view, "target_transform", None))
    return view


@attrs.frozen
class DatasetInfo:
    """What ``list_datasets`` says about a dataset without loading it.

    ``shape`` is its nominal shape (what ``nasplug info --dataset`` uses), or None where only
    the files tell (a folder of images).
    """

    description: str
    shape: DataShape | None = None


@attrs.frozen
class DatasetOptions:
    """How a dataset is to be loaded (the ``options`` of the ``build_dataset`` hook).

    ``augment`` turns the training augmentation on, ``cutout`` adds Cutout of that side (0: none),
    ``download`` lets a loader fetch missing files, ``input_size`` resizes (None: the dataset's own),
    ``normalisation`` is ``dataset`` (its channel statistics) or ``symmetric`` (pixels onto [-1, 1]).
    """

    augment: bool = True
    cutout: int = 0
    download: bool = True
    input_size: int | None = None
    normalisation: str = "dataset"


class TensorImages(Dataset):
    """Images held in memory as one ``N×C×H×W`` tensor; ``transform`` runs per item.

    Items are ``(transform(image), label)``; ``classes`` names the labels.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        classes: Sequence[str],
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        if images.ndim != 4 or len(images) != len(labels):
            raise ValueError(f"need N×C×H×W images and N labels, got {tuple(images.shape)} and {len(labels)}")
        self.images = images
        self.labels = labels
        self.classes = tuple(classes)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.images[index]
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.labels[index])
