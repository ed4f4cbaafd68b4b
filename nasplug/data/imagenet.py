"""ImageNet, or any image folders laid out like it: ``root/train/<class>/*`` and ``root/val/<class>/*``."""

from __future__ import annotations

from pathlib import Path

from torchvision.datasets import ImageFolder
from torchvision.transforms import v2

from nasplug.data.bundle import DataBundle, DatasetError, with_transform
from nasplug.data.pipelines import large_image_transforms, resized_side
from nasplug.data.preprocessing import Preprocessing
from nasplug.core.space import DataShape

IMAGE_SIZE = 224
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def load_imagenet(
    root: Path, *, augment: bool, cutout: int, input_size: int | None,
    statistics: tuple[tuple[float, ...], tuple[float, ...]] | None = None,
) -> DataBundle:
    """ImageFolder train and val sets; the classes are the folders found (1000 for ImageNet).

    ``statistics`` (mean, std) replace ImageNet's channel statistics in the normalisation.
    """
    size = input_size or IMAGE_SIZE
    mean, std = statistics or (MEAN, STD)
    train_transform, test_transform = large_image_transforms(mean, std, size, augment=augment, cutout=cutout)
    train = _image_folder(root / "train", root, train_transform)
    test = _image_folder(root / "val", root, test_transform)
    if test.classes != train.classes:
        unmatched = sorted(set(test.classes) ^ set(train.classes))
        raise DatasetError(
            f"{root}/train and {root}/val must hold the same class folders; "
            f"{len(unmatched)} differ, e.g. {', '.join(unmatched[:3])}"
        )
    return DataBundle(
        name="imagenet",
        train=train,
        test=test,
        shape=DataShape(num_classes=len(train.classes), in_channels=3, input_size=size),
        train_plain=with_transform(train, test_transform),
        preprocessing=Preprocessing("RGB", 255, resized_side(size), size, mean, std, train.classes),
    )


def _image_folder(folder: Path, root: Path, transform: v2.Compose) -> ImageFolder:
    if not folder.is_dir():
        raise DatasetError(
            f"ImageNet: {folder} is missing; put one folder per class (e.g. n01440764/) of the training "
            f"images in {root / 'train'} and of the validation images in {root / 'val'}"
        )
    try:
        return ImageFolder(str(folder), transform=transform)
    except OSError as error:  # FileNotFoundError: no class folders, or a class folder without images
        raise DatasetError(f"ImageNet: {error}") from error
