"""A network built only where it fits: one larger than the device's memory is refused in one line.

An ordinary network is built once, for real, while a counter adds up the bytes its tensor factories
(``torch.empty``, ``torch.zeros`` ...) ask for. Only when that passes :data:`QUICK_BYTES` is the build
stopped and the network's exact size taken from a build on PyTorch's ``meta`` device, which records every
tensor's shape and allocates nothing. The network is built on the CPU and then moved to its device: its
weights must fit in the machine's memory (1x), and the weights with the gradients and the SGD momentum a
training keeps (3x) in the device's. ``--channels 99999999`` then gets a message instead of an attempt to
allocate 10¹⁷ bytes, and an ordinary start pays for one build, not two.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from nasplug.core.errors import NasplugError

COPIES_IN_TRAINING = 3
"""Weights, their gradients and the optimiser's momentum: what training a network holds at least."""
QUICK_BYTES = 2**30
"""Tensors a build may ask for before its size is estimated exactly (a default DARTS supernet: ~8 MB)."""
_FACTORIES = frozenset({torch.empty, torch.zeros, torch.ones, torch.full, torch.rand, torch.randn})


class NetworkTooLargeError(NasplugError, MemoryError):
    """A network would not fit in the memory of the device it is for; the message says how large it is."""


class _PastQuickLimit(BaseException):
    """A build asked for more than QUICK_BYTES (a BaseException: a plugin's ``except Exception`` lets it by)."""


def device_memory(device: torch.device) -> int:
    """The bytes of memory of ``device``: a CUDA device's own, else the machine's physical memory."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    return host_memory()


def host_memory() -> int:
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


def build_within_memory(build: Callable[[], nn.Module], what: str, device: torch.device, advice: str) -> nn.Module:
    """``build()`` on the CPU, or NetworkTooLargeError where its network could not be trained on ``device``."""
    try:
        with _Counter(QUICK_BYTES):
            return build()
    except _PastQuickLimit:  # a large network: what was built so far is dropped, and its size estimated
        pass
    refuse_oversized(build, what, device, advice)
    return build()


def refuse_oversized(build: Callable[[], nn.Module], what: str, device: torch.device, advice: str) -> None:
    """Raise NetworkTooLargeError where ``build()``'s weights exceed this machine's memory (the network is
    built on the CPU) or training them exceeds ``device``'s."""
    size = network_bytes(build)
    if size is None:
        return
    for needed, available, where, held in (
            (size, host_memory(), "this machine's memory, where it is built", ""),
            (COPIES_IN_TRAINING * size, device_memory(device), str(device), " with their gradients and momentum")):
        if needed > available:
            raise NetworkTooLargeError(
                f"{what} does not fit in memory: {size / 4e6:,.0f} M parameters, {needed / 2**30:,.1f} GiB"
                f"{held}, more than the {available / 2**30:,.1f} GiB of {where}; {advice}")


class _Counter(TorchFunctionMode):
    """Adds up the bytes tensor factories ask for; _PastQuickLimit before the call that passes ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit, self.total = limit, 0

    def __torch_function__(self, func: Any, types: Any, args: Sequence[Any] = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if func in _FACTORIES:
            self.total += _requested_bytes(func, args, kwargs)
            if self.total > self.limit:
                raise _PastQuickLimit
        return func(*args, **kwargs)


def _requested_bytes(func: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> int:
    size = kwargs.get("size", args[0] if func is torch.full or (len(args) == 1 and not isinstance(args[0], int))
                      else args)
    try:
        count = math.prod(int(extent) for extent in size)
    except TypeError:  # a call this counter does not understand: torch itself will say what is wrong
        return 0
    return count * (kwargs.get("dtype") or torch.get_default_dtype()).itemsize
