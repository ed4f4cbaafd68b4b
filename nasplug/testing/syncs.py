"""Counting the host syncs a piece of code would make on a GPU, on any device (CPU included).

On CUDA, reading a tensor's value on the host (``float(t)``, ``t.item()``, ``t.tolist()``,
``if t:``) waits until every kernel queued before it has run. On the CPU
nothing waits, so a regression there is invisible: :class:`HostSyncCounter` makes it
visible by counting those reads, but only of tensors computed from given *device*
tensors (a supernet's parameters and buffers, a batch), so a controller's own CPU
tables and generators, which never sync, do not count. Values flow through every
torch operation seen from Python (``TorchFunctionMode``); what autograd computes in
C++ (gradients) is followed where Python reads it back (``p.grad``). A device-to-host
copy hidden inside a C++ operation (a backward into a CPU leaf) is not seen:
``torch.cuda.set_sync_debug_mode("error")`` covers that on a GPU (tests/test_cuda.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

_READS = {
    torch.Tensor.item,
    torch.Tensor.tolist,
    torch.Tensor.numpy,
    torch.Tensor.__float__,
    torch.Tensor.__int__,
    torch.Tensor.__bool__,
    torch.Tensor.__index__,
    torch.Tensor.__complex__,
}
"""Tensor methods that hand the host a value (or a host copy) of the tensor."""

_MARK = "_nasplug_sync_counter"


class HostSyncCounter(TorchFunctionMode):
    """Within ``with``: ``count`` host reads of tensors derived from ``sources``, ``reads`` their names.

    ``sources`` are the tensors that would live on the GPU; anything an operation computes
    from one of them counts as on the device too. Copies (``.cpu()``, ``.to(device)``) are not
    counted: on a CPU run the run's device is the host, so they cannot be told apart.
    """

    def __init__(self, sources: Iterable[torch.Tensor]) -> None:
        super().__init__()
        self.count = 0
        self.reads: list[str] = []
        for tensor in sources:
            self._mark(tensor)

    def _mark(self, tensor: torch.Tensor) -> None:
        setattr(tensor, _MARK, self)

    def _on_device(self, value: Any) -> bool:
        return isinstance(value, torch.Tensor) and getattr(value, _MARK, None) is self

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        inputs, _ = tree_flatten((args, kwargs))
        derived = any(self._on_device(value) for value in inputs)
        if derived and func in _READS:
            self.count += 1
            self.reads.append(getattr(func, "__name__", repr(func)))
        result = func(*args, **kwargs)
        if derived:
            outputs, _ = tree_flatten(result)
            for value in outputs:
                if isinstance(value, torch.Tensor):
                    self._mark(value)
        return result

