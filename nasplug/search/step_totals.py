"""The search's per-step metrics, summed on the device and read on the host only now and then.

Reading a CUDA value on the host waits until every kernel queued before it has run,
which stalls the queue the host keeps ahead of the GPU. The engine therefore adds
each step's losses and accuracies to float64 sums on the device and reads them at
the epoch's end and at most every :data:`REDUCE_SECONDS` in between (for the live
progress line and an early divergence check).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import torch

REDUCE_SECONDS = 1.0
"""The least time between two reads of the sums within an epoch: about tqdm's refresh, and a
diverged run stops within a second of compute instead of at the epoch's end."""


class StepTotals:
    """Sums of ``keys`` over the steps of one epoch, on ``device``; :meth:`read` brings them to the host."""

    def __init__(self, keys: Sequence[str], device: torch.device) -> None:
        self.keys = tuple(keys)
        self._sums = torch.zeros(len(self.keys), dtype=torch.float64, device=device)
        self.steps = 0
        self.first_unread = 0
        """The step (from 0) the next :meth:`read` is the first to cover."""
        self._read_at = time.monotonic()

    def add(self, values: Mapping[str, torch.Tensor]) -> None:
        """Add one step's 0-d tensors (no host sync)."""
        self._sums += torch.stack([values[key].to(torch.float64) for key in self.keys])
        self.steps += 1

    def due(self) -> bool:
        """Whether :data:`REDUCE_SECONDS` have passed since the last read (or the epoch's start)."""
        return time.monotonic() - self._read_at >= REDUCE_SECONDS

    def read(self) -> dict[str, float]:
        """The sums so far as host floats: one transfer, the one host sync of a reduction."""
        sums = dict(zip(self.keys, self._sums.tolist()))
        self.first_unread = self.steps
        self._read_at = time.monotonic()
        return sums


def ordered_mean(values: Sequence[torch.Tensor]) -> torch.Tensor:
    """The float64 mean of 0-d tensors, summed left to right as Python sums floats (the same bits)."""
    total = values[0].to(torch.float64)
    for value in values[1:]:
        total = total + value.to(torch.float64)
    return total / len(values)


def steps_label(first: int, last: int) -> str:
    """``step 3`` or ``steps 3-20``: where a reduction found a non-finite value (steps counted from 1)."""
    return f"step {first}" if first == last else f"steps {first}-{last}"
