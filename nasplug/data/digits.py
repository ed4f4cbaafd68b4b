"""The UCI handwritten digits that ship with scikit-learn: 1797 grey 8×8 images, 10 classes, offline.

Small enough to search on a laptop CPU in seconds, which makes it the
quickstart's dataset. Images live in memory as normalised float tensors.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from sklearn.datasets import load_digits as load_uci_digits
from torch.nn import functional as F
from torchvision.transforms import v2

from nasplug.data.preprocessing import Preprocessing
from nasplug.data.bundle import DataBundle, TensorImages, TensorSource, with_transform
from nasplug.data.transforms import Cutout
from nasplug.core.space import DataShape

IMAGE_SIZE = 8
TEST_FRACTION = 0.2
SPLIT_SEED = 0
_MAX_VALUE = 16.0  # pixel values are counts of set pixels in 4×4 blocks of a 32×32 bitmap: 0..16


def load_digits(*, augment: bool, cutout: int, input_size: int | None) -> DataBundle:
    """The digits with a fixed stratified 80/20 train/test split, resized to ``input_size`` if given."""
    raw = load_uci_digits()
    labels = torch.from_numpy(raw.target.astype(np.int64))
    images = torch.from_numpy(raw.images.astype(np.float32) / _MAX_VALUE).unsqueeze(1)
    size = input_size or IMAGE_SIZE
    if size != IMAGE_SIZE:
        images = F.interpolate(images, size=(size, size), mode="bilinear", antialias=True)
    train_index, test_index = stratified_split(raw.target, TEST_FRACTION, SPLIT_SEED)
    # normalise once, with the training images' statistics; the blank background maps to `background`
    mean, std = images[train_index].mean(), images[train_index].std()
    images = (images - mean) / std
    background = float(-mean / std)
    classes = [str(digit) for digit in range(10)]
    steps: list[Callable[[torch.Tensor], torch.Tensor]] = []
    padding = max(1, size // 8) if augment else 0
    if augment:
        # a random shift of up to size/8 pixels (1 at 8×8) filled with background;
        # no flips: digits are not symmetric
        steps.append(v2.RandomCrop(size, padding=padding, fill=background))
        if cutout:
            steps.append(Cutout(cutout))
    train = TensorImages(
        images[train_index], labels[train_index], classes, v2.Compose(steps) if augment else None
    )
    return DataBundle(
        name="digits",
        train=train,
        test=TensorImages(images[test_index], labels[test_index], classes),
        shape=DataShape(num_classes=len(classes), in_channels=1, input_size=size),
        train_source=TensorSource(images[train_index], labels[train_index], padding=padding, fill=background,
                                  cutout=cutout if augment else 0),
        train_plain=with_transform(train, None),
        preprocessing=Preprocessing("L", _MAX_VALUE, size, size, [float(mean)], [float(std)], classes),
    )


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Sorted (train, test) indices: per class a seeded shuffle, its first round(count·fraction) for test."""
    rng = np.random.default_rng(seed)
    train: list[int] = []
    test: list[int] = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label)).tolist()
        held_out = round(len(members) * test_fraction)
        test += members[:held_out]
        train += members[held_out:]
    return sorted(train), sorted(test)
