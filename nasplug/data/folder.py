"""Any labelled image folder: ``root/train/<class>/*`` and ``root/val/<class>/*``, images of any size.

Small images (short side ≤ :data:`SMALL_IMAGE_MAX` px, CIFAR-like) are read once into memory, resized
to one square size, normalised with the training images' own channel statistics and augmented as DARTS
augments CIFAR. Larger images are read per item (as ImageNet is) and get DARTS's ImageNet pipeline.
Every problem with the folder is a :class:`DatasetError` naming the path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps
from torch.utils.data import Dataset

from nasplug.data.bundle import DataBundle, DatasetError, TensorImages, with_transform
from nasplug.data.imagenet import IMAGE_SIZE as LARGE_IMAGE_SIZE
from nasplug.data.imagenet import MEAN, STD
from nasplug.data.pipelines import large_image_transforms, resized_side, small_image_transforms
from nasplug.data.preprocessing import Preprocessing
from nasplug.core.space import DataShape

SMALL_IMAGE_MAX = 64
"""Images whose shorter side is at most this many pixels get the CIFAR pipeline; larger ones ImageNet's."""

EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})
GREY_MODES = frozenset({"1", "L", "I", "I;16", "F"})
LAYOUT = "ROOT/train/<class>/*.png and ROOT/val/<class>/*.png"

Files = list[tuple[Path, int]]


def load_folder(root: Path | None, *, augment: bool, cutout: int, input_size: int | None) -> DataBundle:
    """The folder's train and val images as a DataBundle; its classes are the class folders' names."""
    root = _checked_root(root)
    classes, train_files = scan_split(root / "train")
    val_classes, val_files = scan_split(root / "val")
    if val_classes != classes:
        only_train = sorted(set(classes) - set(val_classes))
        only_val = sorted(set(val_classes) - set(classes))
        differ = [f"only in train/: {', '.join(only_train)}" if only_train else "",
                  f"only in val/: {', '.join(only_val)}" if only_val else ""]
        raise DatasetError(f"{root}/train and {root}/val must hold the same class folders; "
                           f"{'; '.join(d for d in differ if d)}")
    first = read_image(train_files[0][0])
    if min(first.size) <= SMALL_IMAGE_MAX:
        mode = "L" if first.mode in GREY_MODES else "RGB"
        return _small(root, classes, train_files, val_files, mode, input_size or min(first.size),
                      augment=augment, cutout=cutout)
    size = input_size or LARGE_IMAGE_SIZE
    train_transform, test_transform = large_image_transforms(MEAN, STD, size, augment=augment, cutout=cutout)
    train = ImageFiles(train_files, classes, train_transform)
    return DataBundle(
        name="folder",
        train=train,
        test=ImageFiles(val_files, classes, test_transform),
        shape=DataShape(num_classes=len(classes), in_channels=3, input_size=size),
        train_plain=with_transform(train, test_transform),
        preprocessing=Preprocessing("RGB", 255, resized_side(size), size, MEAN, STD, classes),
    )


def is_small(root: Path | None) -> bool:
    """Whether the folder's images get the CIFAR treatment (judged, as loading does, by the first one)."""
    _, train_files = scan_split(_checked_root(root) / "train")
    return min(read_image(train_files[0][0]).size) <= SMALL_IMAGE_MAX


def _checked_root(root: Path | None) -> Path:
    if root is None:
        raise DatasetError(f"the folder dataset needs its folder: --data-dir ROOT with {LAYOUT}")
    if not root.is_dir():
        raise DatasetError(f"folder dataset: {root} is not a folder; lay it out as {LAYOUT}")
    return root


def scan_split(folder: Path) -> tuple[list[str], Files]:
    """(class names, [(image path, class index)]) of one split; hidden entries and other files are skipped."""
    if not folder.is_dir():
        raise DatasetError(f"folder dataset: {folder} is missing; lay the images out as {LAYOUT}")
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DatasetError(f"folder dataset: {folder} holds no class folders; put each class's images "
                           f"in {folder}/<class>/")
    files: Files = []
    for index, name in enumerate(classes):
        images = sorted(p for p in (folder / name).iterdir()
                        if p.suffix.lower() in EXTENSIONS and not p.name.startswith("."))
        if not images:
            raise DatasetError(f"folder dataset: {folder / name} holds no images "
                               f"({', '.join(sorted(EXTENSIONS))})")
        files += [(path, index) for path in images]
    return classes, files


def read_image(path: Path, mode: str | None = None) -> Image.Image:
    """The decoded image (converted to ``mode`` if given); a file PIL cannot decode names its path."""
    try:
        with Image.open(path) as image:
            image.load()
            image = to_eight_bits(image)
            return image.convert(mode) if mode else image.copy()
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise DatasetError(f"folder dataset: cannot read image {path}: {error}") from error


SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N"})
"""Grey modes PIL opens 16-bit files in (a 16-bit PNG is ``I;16``)."""
WIDE_MODE = "I"
"""PIL's 32-bit signed grey mode (a 32-bit TIFF; a 16-bit PNG in Pillow before 10)."""


def to_eight_bits(image: Image.Image) -> Image.Image:
    """A wide grey image scaled to 8 bits, as PIL's own ``convert`` would not: that clips every value
    above 255 to white. 16-bit modes: v · 255 / 65535. Mode ``I``, whose 32 bits no file fills: its own
    range, from min(0, lowest) to its highest value (a constant image: black). Rounded; other images are
    returned as they are."""
    if image.mode not in SIXTEEN_BIT_MODES and image.mode != WIDE_MODE:
        return image
    values = np.asarray(image, dtype=np.float64)
    low, high = (0.0, 65535.0) if image.mode in SIXTEEN_BIT_MODES else (min(0.0, values.min()), values.max())
    scale = 255 / (high - low) if high > low else 0.0
    return Image.fromarray(np.clip(np.rint((values - low) * scale), 0, 255).astype(np.uint8))


def _small(root: Path, classes: Sequence[str], train_files: Files, val_files: Files, mode: str, size: int,
           *, augment: bool, cutout: int) -> DataBundle:
    train_images, train_labels = _read_all(train_files, mode, size)
    val_images, val_labels = _read_all(val_files, mode, size)
    mean, std = channel_statistics(train_images)
    if min(std) == 0:
        raise DatasetError(f"folder dataset: every training image in {root}/train is one flat colour")
    train_transform, test_transform = small_image_transforms(
        mean, std, size, resize=False, augment=augment, cutout=cutout
    )
    train = TensorImages(train_images, train_labels, classes, train_transform)
    return DataBundle(
        name="folder",
        train=train,
        test=TensorImages(val_images, val_labels, classes, test_transform),
        shape=DataShape(num_classes=len(classes), in_channels=1 if mode == "L" else 3, input_size=size),
        train_plain=with_transform(train, test_transform),
        preprocessing=Preprocessing("L" if mode == "L" else "RGB", 255, size, size, mean, std, classes),
    )


def channel_statistics(images: torch.Tensor, chunk: int = 4096) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of N×C×H×W uint8 images in [0, 1], chunk by chunk."""
    total = torch.zeros(images.shape[1], dtype=torch.float64)
    squares = torch.zeros_like(total)
    for start in range(0, len(images), chunk):
        part = images[start : start + chunk].to(torch.float64).div_(255)
        total += part.sum((0, 2, 3))
        squares += part.square().sum((0, 2, 3))
    count = images.numel() / images.shape[1]
    mean = total / count
    variance = (squares / count - mean.square()).clamp_(min=0)
    return mean.tolist(), variance.sqrt().tolist()


def _read_all(files: Files, mode: str, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """N×C×size×size uint8 images (short side resized to ``size``, centre-cropped) and N labels."""
    images = []
    for path, _ in files:
        image = read_image(path, mode)
        if image.size != (size, size):
            image = ImageOps.fit(image, (size, size), Image.Resampling.BILINEAR)
        array = np.asarray(image, dtype=np.uint8)
        images.append(torch.from_numpy(array.reshape(size, size, -1).copy()).permute(2, 0, 1))
    return torch.stack(images), torch.tensor([label for _, label in files], dtype=torch.int64)


class ImageFiles(Dataset):
    """Images decoded from disk per item, as RGB; ``classes`` names the labels."""

    def __init__(
        self, files: Files, classes: Sequence[str], transform: Callable[[Any], torch.Tensor]
    ) -> None:
        self.files = list(files)
        self.classes = tuple(classes)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.files[index]
        return self.transform(read_image(path, "RGB")), label
