"""A split held on the run's device: the images stored once, batches drawn and augmented there.

For datasets that fit (digits; CIFAR-10/100: 50,000 × 3 × 32 × 32 uint8 = 150 MB), copying the split to
the GPU once and augmenting whole batches there takes the host and the DataLoader off the step. The
dataset describes its training images and their augmentation as a
:class:`~nasplug.data.bundle.TensorSource` (``DataBundle.train_source``); a
:class:`DeviceSplit` holds a subset of them on a device and yields batches:

- in the same order as :func:`nasplug.data.make_loader` (its :class:`EpochSampler` permutation,
  padding and rank sharding), so the same indices make up each batch as on the DataLoader path;
- augmented as the host pipeline augments (random crop from the image padded by ``padding`` pixels
  of ``fill``, horizontal flip where the host flips, conversion and normalisation, Cutout), vectorised
  over the batch, with random numbers of the same distribution but not torchvision's;
- with those random numbers drawn from a ``torch.Generator`` on the device seeded per batch by the
  caller (:func:`nasplug.data.loaders.derived_seed`), so a batch is a function of its seeds alone and a
  resumed run needs no generator state.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

import torch
from torch.nn import functional as F

from nasplug.data.bundle import DatasetError, TensorSource
from nasplug.data.loaders import EpochSampler, derived_seed

DEVICE_DATA_CHOICES: tuple[str, ...] = ("auto", "on", "off")
"""``auto``: on for CUDA where the dataset has a tensor source that fits; ``on``: always; ``off``: never."""
MEMORY_SHARE = 0.25
"""``auto`` holds the splits on the GPU only if the dataset's images take at most this share of its free memory."""

Batch = tuple[torch.Tensor, torch.Tensor]


def fits_on(source: TensorSource, device: torch.device) -> bool:
    """Whether ``source`` may live on ``device`` under ``auto``: CUDA, with room to spare (MEMORY_SHARE)."""
    if device.type != "cuda":
        return False
    free, _ = torch.cuda.mem_get_info(device)
    return source.nbytes <= MEMORY_SHARE * free


def use_device_data(setting: str, source: TensorSource | None, device: torch.device, dataset: str) -> bool:
    """Whether a run with ``data_on_device=setting`` holds its splits on ``device`` (``on`` needs a source)."""
    if setting not in DEVICE_DATA_CHOICES:
        raise DatasetError(f"data on device is one of {', '.join(DEVICE_DATA_CHOICES)}, not {setting!r}")
    if setting == "off":
        return False
    if setting == "on":
        if source is None:
            raise DatasetError(f"dataset {dataset!r} cannot be held on the device (it offers no tensor source: "
                               f"only digits and CIFAR at their own size do); use --data-on-device off")
        return True
    return source is not None and fits_on(source, device)


class DeviceSplit:
    """Images ``indices`` of a :class:`TensorSource`, copied once to ``device``, and their batches."""

    def __init__(self, source: TensorSource, indices: Sequence[int], device: torch.device) -> None:
        chosen = torch.as_tensor(list(indices), dtype=torch.long)
        self.source = source
        self.device = device
        self.images = source.images[chosen].to(device)
        self.labels = source.labels[chosen].to(device)
        if source.mean is not None and source.std is not None:
            self._mean = torch.tensor(source.mean, device=device).view(1, -1, 1, 1)
            self._std = torch.tensor(source.std, device=device).view(1, -1, 1, 1)

    def __len__(self) -> int:
        return len(self.labels)

    def epoch(
        self, batch_size: int, *, order_seed: int, augmentation_seed: Callable[[int], int], drop_last: bool,
        rank: int = 0, world_size: int = 1, skip_batches: int = 0,
    ) -> DeviceBatches:
        """One pass in :class:`EpochSampler`'s order for ``order_seed`` (rank ``rank``'s shard), augmented.

        Batch ``b`` of the pass (counted from its start, skipped ones included) is augmented with a
        generator seeded by ``augmentation_seed(b)``.
        """
        sampler = EpochSampler(len(self), shuffle=True, seed=order_seed, rank=rank, world_size=world_size)
        order = torch.as_tensor(list(sampler), dtype=torch.long).to(self.device, non_blocking=True)
        return DeviceBatches(self, order, batch_size, drop_last, augmentation_seed, skip_batches)

    def in_order(
        self, batch_size: int, *, rank: int = 0, world_size: int = 1,
        augmentation_seed: Callable[[int], int] | None = None,
    ) -> Iterator[Batch]:
        """Images ``rank``, ``rank + world_size``, ... in order (evaluation): batch ``b`` augmented with
        ``augmentation_seed(b)``, or only normalised if that is None."""
        index = torch.arange(rank, len(self), world_size, device=self.device)
        for number, start in enumerate(range(0, len(index), batch_size)):
            chosen = index[start : start + batch_size]
            if augmentation_seed is None:
                yield self._normalised(self.images[chosen]), self.labels[chosen]
            else:
                yield self.augmented(chosen, augmentation_seed(number))

    def augmented(self, index: torch.Tensor, seed: int) -> Batch:
        """Images ``index`` augmented with a generator seeded by ``seed``, and their labels."""
        generator = torch.Generator(device=self.device).manual_seed(seed)
        images = self.images[index]
        count, _, height, width = images.shape
        source = self.source
        if source.padding:
            images = _random_crop(images, source.padding, source.fill, generator)
        if source.flip:
            flipped = torch.rand(count, device=self.device, generator=generator) < 0.5
            images = torch.where(flipped.view(-1, 1, 1, 1), images.flip(-1), images)
        images = self._normalised(images)
        if source.cutout:
            images = _cutout(images, source.cutout, generator)
        return images, self.labels[index]

    def _normalised(self, images: torch.Tensor) -> torch.Tensor:
        """As the host's ``ToDtype(float32, scale=True)``, ``Normalize(mean, std)``; floats pass as they are."""
        if images.dtype != torch.uint8:
            return images
        return images.to(torch.float32).mul_(1.0 / 255).sub_(self._mean).div_(self._std)


class DeviceBatches:
    """The batches of one pass over a :class:`DeviceSplit` (what :meth:`DeviceSplit.epoch` returns).

    Like a DataLoader: ``len`` is the number of batches, iterating yields ``(images, labels)`` on the device.
    """

    def __init__(
        self, split: DeviceSplit, order: torch.Tensor, batch_size: int, drop_last: bool,
        augmentation_seed: Callable[[int], int], skip_batches: int,
    ) -> None:
        if batch_size < 1:
            raise DatasetError(f"the batch size must be at least 1, got {batch_size}")
        self.split = split
        self.order = order
        self.batch_size = batch_size
        self.augmentation_seed = augmentation_seed
        total = len(order) // batch_size if drop_last else math.ceil(len(order) / batch_size)
        self.first = min(skip_batches, total)
        self.total = total

    def __len__(self) -> int:
        return self.total - self.first

    def __iter__(self) -> Iterator[Batch]:
        for number in range(self.first, self.total):
            index = self.order[number * self.batch_size : (number + 1) * self.batch_size]
            yield self.split.augmented(index, self.augmentation_seed(number))


def cycling_device_batches(
    split: DeviceSplit, batch_size: int, *, seed: int, start: int, augmentation_seed: Callable[[int], int]
) -> Iterator[Batch]:
    """Full batches of ``split`` from batch number ``start`` on, pass after pass (as ``cycling_batches``).

    Pass p takes the order ``make_loader(..., epoch=p)`` would; batch number b overall is augmented
    with ``augmentation_seed(b)``, so it is a function of (seed, b) alone.
    """
    per_pass = len(split) // batch_size
    if per_pass == 0:
        raise DatasetError(f"batch size {batch_size} is larger than the {len(split)} images to cycle over")
    loop, skip = divmod(start, per_pass)
    while True:
        first = loop * per_pass
        yield from split.epoch(
            batch_size, order_seed=derived_seed(seed, loop, 0), drop_last=True, skip_batches=skip,
            augmentation_seed=lambda b, first=first: augmentation_seed(first + b),
        )
        loop, skip = loop + 1, 0


def _random_crop(images: torch.Tensor, padding: int, fill: float, generator: torch.Generator) -> torch.Tensor:
    """Each image cropped to its size at uniform offsets in 0..2·padding from it padded with ``fill``."""
    count, channels, height, width = images.shape
    device = images.device
    padded = F.pad(images, (padding, padding, padding, padding), value=fill)
    offsets = torch.randint(0, 2 * padding + 1, (2, count), device=device, generator=generator)
    rows = (offsets[0].view(-1, 1) + torch.arange(height, device=device)).view(count, 1, height, 1)
    cols = (offsets[1].view(-1, 1) + torch.arange(width, device=device)).view(count, 1, 1, width)
    batch = torch.arange(count, device=device).view(-1, 1, 1, 1)
    channel = torch.arange(channels, device=device).view(1, -1, 1, 1)
    return padded[batch, channel, rows, cols]


def _cutout(images: torch.Tensor, length: int, generator: torch.Generator) -> torch.Tensor:
    """As :class:`nasplug.data.Cutout` per image: a ``length`` square about a uniform centre, clipped."""
    count, _, height, width = images.shape
    device = images.device
    centre_y = torch.randint(0, height, (count, 1), device=device, generator=generator)
    centre_x = torch.randint(0, width, (count, 1), device=device, generator=generator)
    rows = torch.arange(height, device=device) - (centre_y - length // 2)  # count × height
    cols = torch.arange(width, device=device) - (centre_x - length // 2)
    inside = ((rows >= 0) & (rows < length)).view(count, 1, height, 1) & (
        (cols >= 0) & (cols < length)).view(count, 1, 1, width)
    return images.masked_fill(inside, 0.0)
