"""The two augmentation pipelines every image dataset uses: DARTS's CIFAR one and its ImageNet one.

Kept apart from :mod:`nasplug.data.transforms` because torchvision takes seconds to import.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torchvision.transforms import v2

from nasplug.data.transforms import Cutout


def small_image_transforms(
    mean: Sequence[float], std: Sequence[float], size: int, *, resize: bool, augment: bool, cutout: int
) -> tuple[v2.Compose, v2.Compose]:
    """(train, test) transforms on uint8 CHW tensors: the DARTS CIFAR pipeline.

    Training: random ``size`` crop of the image zero-padded by ``size // 8`` pixels (4 at 32 px),
    horizontal flip, conversion to [0, 1], normalisation, then Cutout if ``cutout`` > 0. Test:
    conversion and normalisation only. ``resize`` first resizes every image to ``size``.
    """
    resizing = [v2.Resize(size, antialias=True)] if resize else []
    normalise = [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))]
    test = v2.Compose([*resizing, *normalise])
    if not augment:
        return test, test
    crop_flip = [v2.RandomCrop(size, padding=size // 8), v2.RandomHorizontalFlip()]
    erase = [Cutout(cutout)] if cutout else []
    return v2.Compose([*resizing, *crop_flip, *normalise, *erase]), test


def resized_side(size: int) -> int:
    """The shorter side a large image is resized to before its centre ``size`` crop (256 for 224)."""
    return round(size * 256 / 224)


def large_image_transforms(
    mean: Sequence[float], std: Sequence[float], size: int, *, augment: bool, cutout: int
) -> tuple[v2.Compose, v2.Compose]:
    """(train, test) transforms on PIL images: the DARTS ImageNet pipeline.

    Training: ``RandomResizedCrop(size)``, horizontal flip, colour jitter (0.4, 0.4, 0.4, 0.2),
    conversion, normalisation, Cutout if asked. Test: resize the short side to ``size · 256/224``,
    centre crop ``size``, conversion, normalisation.
    """
    to_tensor = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))]
    test = v2.Compose([v2.Resize(resized_side(size), antialias=True), v2.CenterCrop(size), *to_tensor])
    if not augment:
        return test, test
    augmentation = [
        v2.RandomResizedCrop(size, antialias=True),
        v2.RandomHorizontalFlip(),
        v2.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.2),
    ]
    erase = [Cutout(cutout)] if cutout else []
    return v2.Compose([*augmentation, *to_tensor, *erase]), test
