"""The accuracy of one architecture over the whole search split, measured as a test is measured."""

from __future__ import annotations

import math

import torch
from torch import nn

from nasplug.core.architecture import Architecture
from nasplug.runs.device import Precision
from nasplug.search.batches import SearchBatches
from nasplug.search.distributed import World, all_sum

EVALUATION_BATCH = 256
"""The largest batch an evaluation over the search split runs in (the run's batch size if larger). BN
normalises with batch statistics there, and those of a few hundred images are close to the split's own."""


def evaluation_batch_size(images: int, batch_size: int) -> int:
    """The batch size that cuts ``images`` into the fewest batches of at most max(``batch_size``,
    :data:`EVALUATION_BATCH`) images, near-equal (719 images: 240, 240, 239), so that no batch's BN
    statistics rest on a few left-over images."""
    largest = max(batch_size, EVALUATION_BATCH)
    batches = max(1, math.ceil(images / largest))
    return max(1, math.ceil(images / batches))


@torch.no_grad()
def search_split_accuracy(
    supernet: nn.Module, architecture: Architecture, batches: SearchBatches, precision: Precision, world: World
) -> float:
    """Accuracy of ``architecture`` on the supernet over the search split: deterministic.

    The images are not augmented (the dataset's plain view, ``DataBundle.train_plain``), and BN
    normalises with the statistics of the fewest near-equal batches of at most
    :data:`EVALUATION_BATCH` images (:func:`evaluation_batch_size`): the same weights and
    architecture give the same number on the same number of ranks. The forward runs under the
    search's autocast. (The step's feedback is measured as DARTS measures it, on one augmented
    search batch.) On N ranks rank r counts images r, r + N, ...; the counts are summed.
    """
    batch_size = evaluation_batch_size(batches.plain_search_images(), batches.config.batch_size)
    correct = total = 0
    for batch in batches.plain_search(batch_size):
        x, y = precision.batch(batch)
        with precision.autocast():
            correct += int((supernet(x, architecture).argmax(1) == y).sum())
        total += len(y)
    correct, total = all_sum(world, [correct, total])
    return correct / total
