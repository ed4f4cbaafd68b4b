"""The two splits of a search and the batches drawn from them, on the DataLoader path or held on the device.

The training set is cut into the weight-training split and the search (validation) split, once per run
from the seed. Every batch is a function of (seed, epoch or step, rank): a resumed run draws exactly
the batches the uninterrupted one would have.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from nasplug.data import DataBundle, make_loader, split_indices, split_off
from nasplug.data.device import DeviceSplit, cycling_device_batches, use_device_data
from nasplug.data.loaders import cycling_batches, derived_seed
from nasplug.runs.progress import Progress
from nasplug.search.config import RunError, SearchConfig
from nasplug.search.distributed import World

SEARCH_AUGMENTATION_STREAM = 3
"""The seed stream of the search batches' augmentation (loaders use 0 and 1, ranks 2)."""
DEVICE_TRAIN_AUGMENTATION_STREAM = 4
"""The seed stream of the weight-training batches' augmentation when the data is on the device."""


class SearchBatches:
    """The weight-training and search splits of ``data`` and their batches for this rank."""

    def __init__(
        self, data: DataBundle, config: SearchConfig, device: torch.device, world: World, progress: Progress
    ) -> None:
        self.config = config
        self.device = device
        self.world = world
        if config.search_images is not None:
            train_part, search_part = split_off(len(data.train), config.search_images, config.seed)
        else:
            train_part, search_part = split_indices(len(data.train), config.train_fraction, config.seed)
        self.train_set = torch.utils.data.Subset(data.train, train_part)
        self.search_set = torch.utils.data.Subset(data.train, search_part)
        # The same images without augmentation, for evaluating architectures (the train set where the
        # dataset gives no plain view).
        plain = data.train_plain if data.train_plain is not None else data.train
        self.search_plain = torch.utils.data.Subset(plain, search_part)
        # Both splits held on the device (nasplug.data.device), or None: the DataLoader path.
        self.device_train: DeviceSplit | None = None
        self.device_search: DeviceSplit | None = None
        source = data.train_source
        if use_device_data(config.data_on_device, source, device, config.dataset) and source is not None:
            self.device_train = DeviceSplit(source, train_part, device)
            self.device_search = DeviceSplit(source, search_part, device)
            progress.message(f"data: both splits held on {device} ({source.nbytes / 2**20:.1f} MiB), "
                             f"augmented there")

    def check_sizes(self) -> None:
        """Refuse a batch larger than a split before anything is written (an epoch would have no step)."""
        if len(self.train_epoch(0)) == 0 or self.config.batch_size > len(self.search_set):
            shared = f" shared by {self.world.size} processes" if self.world.is_distributed else ""
            raise RunError(
                f"batch size {self.config.batch_size} is larger than a split of {self.config.dataset} "
                f"({len(self.train_set)} train{shared} / {len(self.search_set)} search images)"
            )

    def _loader_options(self) -> dict[str, Any]:
        return dict(num_workers=self.config.num_workers, pin_memory=self.device.type == "cuda")

    def train_epoch(self, epoch: int) -> Any:
        """This rank's shard of the weight-training split, one pass per epoch.

        With the data on the device: the same batches of indices, augmented there with a generator
        seeded per batch by (seed, epoch, rank, batch).
        """
        seed, rank = self.config.seed, self.world.rank
        if self.device_train is not None:
            stream = DEVICE_TRAIN_AUGMENTATION_STREAM
            return self.device_train.epoch(
                self.config.batch_size, order_seed=derived_seed(seed, epoch, 0), drop_last=True, rank=rank,
                world_size=self.world.size,
                augmentation_seed=lambda batch: derived_seed(seed, epoch, stream, rank, batch),
            )
        return make_loader(self.train_set, self.config.batch_size, shuffle=True, seed=seed, drop_last=True,
                           epoch=epoch, rank=rank, world_size=self.world.size, **self._loader_options())

    def search_steps(self, first_step: int) -> Iterator[Any]:
        """The search split's batches from the run's step ``first_step`` on, cycling over the split.

        Every rank draws the same batch at a step (PARSEC's ω̃ compares the K samples
        on one batch), with its augmentation seeded by (seed, step): a function of the
        step alone, so a resume continues with the same batches (on the device too).
        """
        seed = self.config.seed
        if self.device_search is not None:
            yield from cycling_device_batches(
                self.device_search, self.config.batch_size, seed=seed + 1, start=first_step,
                augmentation_seed=lambda step: derived_seed(seed, step, SEARCH_AUGMENTATION_STREAM),
            )
            return
        batches = cycling_batches(self.search_set, self.config.batch_size, seed=seed + 1, start=first_step,
                                  **self._loader_options())
        step = first_step
        while True:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(derived_seed(seed, step, SEARCH_AUGMENTATION_STREAM))
                batch = next(batches)
            yield batch
            step += 1

    def plain_search_images(self) -> int:
        """How many search images this rank evaluates (rank r takes images r, r + N, ...)."""
        return len(range(self.world.rank, len(self.search_plain), self.world.size))

    def plain_search(self, batch_size: int) -> Any:
        """This rank's share of the search split without augmentation, in order, in batches of ``batch_size``."""
        rank, ranks = self.world.rank, self.world.size
        if self.device_search is not None:
            return self.device_search.in_order(batch_size, rank=rank, world_size=ranks)
        part: torch.utils.data.Dataset = self.search_plain
        if self.world.is_distributed:
            part = torch.utils.data.Subset(self.search_plain, range(rank, len(self.search_plain), ranks))
        return make_loader(part, batch_size, shuffle=False, seed=self.config.seed, epoch=0)
