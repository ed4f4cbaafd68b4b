"""The dataset contract: what a loader is asked for and returns, its error type, in-memory image sets."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs
import torch
from torch.utils.data import Dataset

from nasplug.errors import NasplugError
from nasplug.space import DataShape


class DatasetError(NasplugError, RuntimeError):
    """A dataset is unknown, missing, incomplete or damaged; the message says which file and what to do."""


@attrs.frozen
class DataBundle:
    """One dataset ready for training: the (possibly augmented) train set, the plain test set, its shape."""

    name: str
    train: Dataset
    test: Dataset
    shape: DataShape


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
