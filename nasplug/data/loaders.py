"""The search split and deterministic, shardable data loaders.

The split, the batch order and the seeds of loader workers are functions of the
run's seed (and the epoch), never of global random state: the same (seed, epoch)
always yields the same batches, which is what makes a resumed run continue
exactly where it stopped.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from nasplug.core.schema import SEED_RANGE
from nasplug.data.bundle import DatasetError


def split_indices(n: int, train_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """The search split of ``n`` training images: (weight-training part, architecture-feedback part).

    A permutation of ``range(n)`` seeded by ``seed``; its first ``round(n * train_fraction)``
    indices train the shared weights, the rest give the controller its feedback.
    """
    if not 0 < train_fraction < 1:
        raise DatasetError(f"the train fraction must lie strictly between 0 and 1, got {train_fraction}")
    count = round(n * train_fraction)
    if count == 0 or count == n:
        empty = "weight-training" if count == 0 else "search"
        raise DatasetError(f"train fraction {train_fraction} of {n} images leaves the {empty} part empty")
    return split_off(n, n - count, seed)


def split_off(n: int, search_count: int, seed: int) -> tuple[list[int], list[int]]:
    """As :func:`split_indices`, with the search part given as a count of images (MdeNAS: 5,000).

    The same seeded permutation: the last ``search_count`` indices are the search part.
    """
    _check_seed(seed, "seed")
    if not 0 < search_count < n:
        raise DatasetError(f"a search split of {search_count} images needs between 1 and {n - 1} of "
                           f"the {n} training images")
    order = np.random.default_rng(seed).permutation(n).tolist()
    return order[: n - search_count], order[n - search_count :]


class EpochSampler(Sampler[int]):
    """One epoch's indices: a permutation fixed by ``seed``, rank ``rank``'s shard of it.

    As ``DistributedSampler``: the permutation is padded by wrapping around to a
    multiple of ``world_size`` and rank ``r`` takes every ``world_size``-th index
    from ``r``, so every rank gets the same number of items. ``skip`` leaves out
    the shard's first items (a pass resumed part-way, see :func:`cycling_batches`).
    """

    def __init__(
        self, size: int, *, shuffle: bool, seed: int, rank: int = 0, world_size: int = 1, skip: int = 0
    ) -> None:
        self.size = size
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.per_rank = math.ceil(size / world_size)
        self.skip = min(skip, self.per_rank)

    def __iter__(self) -> Iterator[int]:
        if self.shuffle:
            order = torch.randperm(self.size, generator=torch.Generator().manual_seed(self.seed)).tolist()
        else:
            order = list(range(self.size))
        total = self.per_rank * self.world_size
        if order:
            order = (order * math.ceil(total / self.size))[:total]
        return iter(order[self.rank :: self.world_size][self.skip :])

    def __len__(self) -> int:
        return self.per_rank - self.skip


def make_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int,
    epoch: int,
    drop_last: bool = False,
    num_workers: int = 0,
    pin_memory: bool = False,
    rank: int = 0,
    world_size: int = 1,
    skip_batches: int = 0,
) -> DataLoader:
    """Batches of ``dataset`` in an order fixed by ``(seed, epoch)``; rank ``rank``'s shard of them.

    All ranks share the permutation (so their shards are disjoint up to the
    wrap-around padding). Worker processes are seeded from a generator fixed by
    ``(seed, epoch, rank)``, so random augmentation in workers repeats exactly
    too; with ``num_workers=0`` augmentation draws from torch's global generator,
    which the engine saves in its checkpoints. ``skip_batches`` starts the epoch
    that many batches in, without loading the batches left out.
    """
    _check_seed(seed, "seed")
    _check_seed(epoch, "epoch")
    if batch_size < 1:
        raise DatasetError(f"the batch size must be at least 1, got {batch_size}")
    if num_workers < 0:
        raise DatasetError(f"the number of loader workers cannot be negative, got {num_workers}")
    if world_size < 1 or not 0 <= rank < world_size:
        raise DatasetError(f"rank {rank} is not one of the {world_size} ranks")
    order_seed = derived_seed(seed, epoch, 0)
    worker_seed = derived_seed(seed, epoch, 1, rank)
    sampler = EpochSampler(len(dataset), shuffle=shuffle, seed=order_seed, rank=rank, world_size=world_size,
                           skip=skip_batches * batch_size)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        drop_last=drop_last,
        num_workers=num_workers,
        pin_memory=pin_memory,
        # DataLoader draws each iteration's worker base seed from this generator
        generator=torch.Generator().manual_seed(worker_seed),
    )


def cycling_batches(dataset: Dataset, batch_size: int, *, seed: int, start: int, **options: Any) -> Iterator[Any]:
    """Full batches of ``dataset`` from batch number ``start`` on, passing over it again and again.

    Pass p is ``make_loader(..., shuffle=True, epoch=p, drop_last=True)``, so batch
    number b is a function of (seed, b) alone: a run resumed at any step continues
    with the very batch an uninterrupted run would have drawn. ``options`` go to
    :func:`make_loader` (workers, pinning, rank).
    """
    per_pass = len(make_loader(dataset, batch_size, shuffle=True, seed=seed, epoch=0, drop_last=True, **options))
    if per_pass == 0:
        raise DatasetError(f"batch size {batch_size} is larger than the {len(dataset)} images to cycle over")
    loop, skip = divmod(start, per_pass)
    while True:
        yield from make_loader(dataset, batch_size, shuffle=True, seed=seed, epoch=loop, drop_last=True,
                               skip_batches=skip, **options)
        loop, skip = loop + 1, 0


def derived_seed(seed: int, epoch: int, *stream: int) -> int:
    """An independent 64-bit seed per (seed, epoch, stream...), via numpy's SeedSequence mixing."""
    return int(np.random.SeedSequence(seed, spawn_key=(epoch, *stream)).generate_state(1, np.uint64)[0])


def _check_seed(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= SEED_RANGE[1]:
        raise DatasetError(f"the {name} must be a non-negative integer below 2**64, got {value!r}")
