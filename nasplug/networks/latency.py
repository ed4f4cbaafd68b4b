"""Measured latency of a network: a stated protocol, warm-up excluded, median and spread in milliseconds.

The protocol (:class:`LatencyProtocol`) fixes everything a latency depends on and is printed beside
the figure: device, batch size, precision, CPU threads, input size, warm-up runs and timed runs.
Each timed run is one eval-mode forward under ``torch.inference_mode``; on CUDA the device is
synchronised before the clock is read at both ends, so the time is the kernels', not the launch's.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import attrs
import torch
from torch import nn

from nasplug.core.errors import NasplugError
from nasplug.runs.environment import ThreadsError, check_threads, environment_record

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
"""The precisions a network is timed in: its weights and input cast to this dtype."""


class LatencyError(NasplugError, ValueError):
    """A latency protocol that cannot be run (no CUDA, fp16 on the CPU, zero runs)."""


@attrs.frozen
class LatencyProtocol:
    """How a latency is measured; every field is reported beside the figure."""

    device: str = "cpu"
    batch_size: int = 1
    precision: str = "fp32"
    threads: int = 1
    input_size: int = 224
    warmup: int = 10
    runs: int = 50

    def __attrs_post_init__(self) -> None:
        problems = []
        if self.device not in ("cpu", "cuda") and not self.device.startswith("cuda:"):
            problems.append(f"device must be cpu or cuda, got {self.device!r}")
        elif self.device.startswith("cuda") and not torch.cuda.is_available():
            problems.append(f"device {self.device} asked for, but CUDA is not available")
        if self.precision not in PRECISIONS:
            problems.append(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        elif self.precision == "fp16" and self.device == "cpu":
            problems.append("fp16 is timed on CUDA only (CPU kernels for it are not what a deployment runs)")
        for name in ("batch_size", "threads", "input_size", "runs"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.warmup < 0:
            problems.append(f"warmup must be at least 0, got {self.warmup}")
        try:
            if self.threads >= 1:  # a count below 1 is reported above
                check_threads(self.threads)
        except ThreadsError as exc:
            problems.append(str(exc))
        if problems:
            raise LatencyError("latency protocol: " + "; ".join(problems))

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class LatencyReport:
    """The timed runs of one network (ms) with the protocol and what they ran on."""

    times_ms: tuple[float, ...]
    protocol: LatencyProtocol
    device_name: str
    software: dict[str, Any]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def quartiles_ms(self) -> tuple[float, float]:
        """First and third quartile (inclusive method); both the one time where there is only one."""
        if len(self.times_ms) < 2:
            return self.times_ms[0], self.times_ms[0]
        q1, _, q3 = statistics.quantiles(self.times_ms, n=4, method="inclusive")
        return q1, q3

    def summary(self) -> str:
        """``12.34 ms median (IQR 12.10–12.60 ms, min–max 12.00–13.10 ms) over 50 runs``."""
        q1, q3 = self.quartiles_ms
        return (f"{self.median_ms:.3f} ms median (IQR {q1:.3f}-{q3:.3f} ms, min-max {min(self.times_ms):.3f}-"
                f"{max(self.times_ms):.3f} ms) over {len(self.times_ms)} timed runs after "
                f"{self.protocol.warmup} warm-up runs")

    def to_json(self) -> dict[str, Any]:
        q1, q3 = self.quartiles_ms
        return {
            "unit": "ms", "median_ms": self.median_ms, "q1_ms": q1, "q3_ms": q3,
            "min_ms": min(self.times_ms), "max_ms": max(self.times_ms), "times_ms": list(self.times_ms),
            "protocol": self.protocol.to_json(), "device_name": self.device_name, "software": self.software,
        }


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's model name as the OS reports it."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def measure_latency(
    module: nn.Module,
    in_channels: int,
    protocol: LatencyProtocol,
    clock: Callable[[], float] = time.perf_counter,
) -> LatencyReport:
    """Time ``protocol.runs`` forwards of ``module`` on one random batch after ``protocol.warmup`` untimed ones.

    ``clock`` returns seconds (``time.perf_counter``; a test passes a counting fake). The module is
    timed in place, in eval mode on the protocol's device and dtype; afterwards its train/eval mode and,
    where its floating-point parameters share one device and dtype, those are restored, as is torch's
    thread count.
    """
    device = torch.device(protocol.device)
    dtype = PRECISIONS[protocol.precision]
    was_training = module.training
    placed = {(t.device, t.dtype) for t in (*module.parameters(), *module.buffers()) if t.is_floating_point()}
    try:
        return _timed(module.eval().to(device=device, dtype=dtype), in_channels, protocol, clock)
    finally:
        module.train(was_training)
        if len(placed) == 1:
            (where, kind), = placed
            module.to(device=where, dtype=kind)


def _timed(module: nn.Module, in_channels: int, protocol: LatencyProtocol,
           clock: Callable[[], float]) -> LatencyReport:
    device = torch.device(protocol.device)
    dtype = PRECISIONS[protocol.precision]
    size = protocol.input_size
    x = torch.randn(protocol.batch_size, in_channels, size, size, generator=torch.Generator().manual_seed(0))
    x = x.to(device=device, dtype=dtype)
    synchronise = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    threads_before = torch.get_num_threads()
    torch.set_num_threads(protocol.threads)
    times = []
    try:
        with torch.inference_mode():
            for _ in range(protocol.warmup):
                module(x)
            synchronise()
            for _ in range(protocol.runs):
                start = clock()
                module(x)
                synchronise()
                times.append((clock() - start) * 1000.0)
    finally:
        torch.set_num_threads(threads_before)
    software = environment_record(protocol.threads, device, ())
    return LatencyReport(tuple(times), protocol, device_name(device), software)
