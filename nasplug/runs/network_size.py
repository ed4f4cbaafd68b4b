"""A network's size estimated before it is built: one larger than the device's memory is refused in one line.

The network is first built on PyTorch's ``meta`` device, which records every tensor's shape and
allocates nothing; its parameters and buffers, with the gradients and the SGD momentum a training
keeps beside the weights (three copies in all), are compared with the memory of the device it is
for. ``--channels 99999999`` then gets a message instead of an attempt to allocate 10¹⁷ bytes.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable

import torch
from torch import nn

from nasplug.core.errors import NasplugError

COPIES_IN_TRAINING = 3
"""Weights, their gradients and the optimiser's momentum: what training a network holds at least."""


class NetworkTooLargeError(NasplugError, MemoryError):
    """A network would not fit in the memory of the device it is for; the message says how large it is."""


def device_memory(device: torch.device) -> int:
    """The bytes of memory of ``device``: a CUDA device's own, else the machine's physical memory."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def network_bytes(build: Callable[[], nn.Module]) -> int | None:
    """The bytes of the parameters and buffers of the network ``build`` returns, built on the meta device
    (nothing allocated); None where the network cannot be built there (it is then built as before)."""
    try:
        with torch.device("meta"):
            module = build()
    except Exception:  # a plugin's network that needs real tensors to build: no estimate
        return None
    tensors = itertools.chain(module.parameters(), module.buffers())
    return sum(tensor.numel() * tensor.element_size() for tensor in tensors)


def refuse_oversized(build: Callable[[], nn.Module], what: str, device: torch.device, advice: str) -> None:
    """Raise NetworkTooLargeError where training ``build()``'s network could not fit in ``device``'s memory."""
    size = network_bytes(build)
    if size is None:
        return
    needed, available = COPIES_IN_TRAINING * size, device_memory(device)
    if needed > available:
        raise NetworkTooLargeError(
            f"{what} does not fit in memory: {size / 4e6:,.0f} M parameters, {needed / 2**30:,.1f} GiB with "
            f"their gradients and momentum, more than the {available / 2**30:,.1f} GiB of {device}; {advice}"
        )
