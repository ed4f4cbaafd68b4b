"""Where a run computes and in what precision: the device by name, bf16 autocast and memory layout."""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import torch

from nasplug.core.errors import NasplugError

DEVICES = "auto, cpu, cuda or cuda:N"


class DeviceError(NasplugError, RuntimeError):
    """An unknown or unavailable device name."""


def resolve_device(name: str) -> torch.device:
    """``auto`` (CUDA where available), ``cpu``, ``cuda`` or ``cuda:N`` as a torch device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise DeviceError(f"unknown device {name!r}; nasplug runs on {DEVICES}") from exc
    if device.type not in ("cpu", "cuda"):
        raise DeviceError(f"device {name!r} is not supported; nasplug runs on {DEVICES}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError("--device cuda asked for, but no CUDA device is available")
    return device


@attrs.frozen
class Precision:
    """bf16 autocast of the forwards and the channels-last layout, both on for CUDA unless set."""

    device: torch.device
    amp: bool
    channels_last: bool

    @classmethod
    def choose(cls, device: torch.device, amp: bool | None, channels_last: bool | None) -> Precision:
        """The configuration's choices, None meaning "on for CUDA, off elsewhere"."""
        on_cuda = device.type == "cuda"
        return cls(device, on_cuda if amp is None else amp, on_cuda if channels_last is None else channels_last)

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def batch(self, batch: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """An (images, labels) batch on the device, the images in the network's memory layout."""
        x, y = batch
        x = x.to(self.device, non_blocking=True)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y.to(self.device, non_blocking=True)
