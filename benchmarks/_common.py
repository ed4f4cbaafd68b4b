"""What the benchmark scripts share: the engine's step on synthetic batches, DARTS, memory, tables.

Every script measures *ratios within one run*: the machines are shared and
noisy, so absolute times mean little. Measurements of the configurations
being compared are interleaved (one of each per round) and summarised by
their median.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import gc
import json
import os
import platform
import resource
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import nn
from torch.nn import functional as F

from nasplug import Architecture, Controller, Feedback, Genotype, Option, SearchSpace, Step, hookimpl
from nasplug import GatedChoice
from nasplug.runs.files import write_json
from nasplug.search.distributed import World
from nasplug.core.options import parse_assignments, resolve_options
from nasplug.plugin import Hooks, load_plugins
from nasplug.train.ranking import sample_architectures
from nasplug.runs.device import Precision as RunPrecision
from nasplug.runs.optimiser import sgd
from nasplug.search import SearchConfig
from nasplug.search.step import SearchStep
from nasplug.core.space import DataShape

DARTS = "darts"
"""Name of the DARTS mixture baseline among the configurations (not an installed controller)."""

ARCH_ADAM_BETAS = (0.5, 0.999)

SEARCH_EPOCHS = 50
"""The search length the benchmarks' steps belong to (the engine's default); no benchmark ends it."""


# ---------------------------------------------------------------------------- arguments


def add_network_arguments(parser: argparse.ArgumentParser) -> None:
    """Options every script shares: the space and its size, batch, input, device, threads, seed, output."""
    parser.add_argument("--space", default="darts-cell", help="search space (default darts-cell)")
    parser.add_argument("-o", "--space-option", action="append", default=[], metavar="KEY=VALUE",
                        help="a space option, e.g. -o width_mult=0.35 (repeatable)")
    parser.add_argument("--layers", type=int, default=5, help="cells of the darts-cell supernet (default 5)")
    parser.add_argument("--channels", type=int, default=8, help="darts-cell initial channels C (default 8)")
    parser.add_argument("--input-size", type=int, default=16, help="square input size (default 16)")
    parser.add_argument("--in-channels", type=int, default=3, help="input channels (default 3)")
    parser.add_argument("--classes", type=int, default=10, help="classes (default 10)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: steadier on a shared machine)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")


def space_options(args: argparse.Namespace) -> dict[str, Any]:
    """``-o`` options, plus --layers/--channels where the space declares them."""
    options: dict[str, Any] = parse_assignments(args.space_option)
    entry = load_plugins().space_entry(args.space)
    for key in ("layers", "channels"):
        if key in entry.cls.options and key not in options:
            options[key] = getattr(args, key)
    return options


def data_shape(args: argparse.Namespace) -> DataShape:
    return DataShape(num_classes=args.classes, in_channels=args.in_channels, input_size=args.input_size)


def setup_torch(threads: int, seed: int) -> None:
    torch.set_num_threads(threads)
    torch.manual_seed(seed)


# ---------------------------------------------------------------------------- the machine


def environment(device: torch.device) -> dict[str, Any]:
    """The machine and software the numbers were taken on."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> list[float]:
    """1, 5 and 15-minute load averages: how busy the shared machine was."""
    return [round(value, 2) for value in os.getloadavg()]


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, work: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds ``work()`` takes (the device synchronised before and after) and its result."""
    synchronize(device)
    started = time.perf_counter()
    result = work()
    synchronize(device)
    return time.perf_counter() - started, result


# ---------------------------------------------------------------------------- peak memory


class PeakMemory:
    """Peak memory of what runs after :meth:`start`, above what the process held at that point.

    CUDA: ``torch.cuda.max_memory_allocated`` (tensors only). CPU: the resident
    set's high-water mark, reset at :meth:`start` through ``/proc/self/clear_refs``
    (Linux ≥ 4.0), after freed heap memory went back to the system
    (``malloc_trim``); where the reset is not allowed, the process-lifetime
    ``ru_maxrss`` (``method`` says which). Call :func:`warm_up` first, so the
    library code and lazily built kernels of the first forward/backward are in
    the baseline rather than in the measurement, and run the process with
    :data:`MALLOC_ENV`, so large freed tensors leave the resident set at once.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.method = ""
        self.baseline = 0

    def start(self) -> None:
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.method = "torch.cuda.max_memory_allocated"
            self.baseline = torch.cuda.memory_allocated(self.device)
            return
        _malloc_trim()
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.method = "VmHWM after clear_refs"
            self.baseline = _status_bytes("VmRSS")
        except OSError:
            self.method = "ru_maxrss"
            self.baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def peak(self) -> int:
        """Bytes above the baseline at the highest point since :meth:`start`."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            return torch.cuda.max_memory_allocated(self.device) - self.baseline
        if self.method == "ru_maxrss":
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - self.baseline
        return _status_bytes("VmHWM") - self.baseline


MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "65536"}
"""glibc settings for memory-measuring processes: tensors above 64 KiB are mapped and unmapped on free."""


def _malloc_trim() -> None:
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the high-water mark still bounds the peak
        pass


def warm_up(space: SearchSpace, train: tuple[torch.Tensor, torch.Tensor], device: torch.device) -> None:
    """One SGD step of the full mixture, thrown away: every op's kernels and code are loaded."""
    supernet = space.build_supernet().to(device)
    mixture = Architecture({d.key: tuple(GatedChoice(i, 1.0 / len(d)) for i in range(len(d)))
                            for d in space.decisions()})
    optimizer = torch.optim.SGD(supernet.parameters(), lr=0.01, momentum=0.9)
    F.cross_entropy(supernet(train[0], mixture), train[1]).backward()
    optimizer.step()
    del supernet, optimizer


def _status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise OSError(f"/proc/self/status has no {field}")


# ---------------------------------------------------------------------------- architectures


def ungated(arch: Architecture) -> Architecture:
    """The same choices without gates: the plain child a gated sample runs."""
    return Architecture({key: tuple(GatedChoice(p.choice) for p in paths) for key, paths in arch.paths.items()})


def arch_to_json(arch: Architecture) -> dict[str, list[int]]:
    """Choice indices per key (gates dropped): enough to rebuild the child in another process."""
    return {key: list(indices) for key, indices in arch.choices().items()}


def arch_from_json(data: Mapping[str, Sequence[int]]) -> Architecture:
    return Architecture({key: tuple(GatedChoice(int(i)) for i in indices) for key, indices in data.items()})


def uniform_architecture(space: SearchSpace, generator: torch.Generator) -> Architecture:
    """One single-path architecture with every decision uniform (what random search samples)."""
    return sample_architectures(space, 1, generator)[0]


# ---------------------------------------------------------------------------- the DARTS mixture


class DartsMixture(Controller):
    """First-order DARTS expressed as a controller: every choice runs, scaled by softmax(α).

    The baseline whose cost distribution learning avoids: the engine's feedback
    forward keeps the graph to the gates and α takes an Adam step on the
    validation loss (DARTS's first-order approximation); the weight step trains
    the whole mixture. Hyper-parameters are DARTS's (Adam 3e-4, β (0.5, 0.999),
    weight decay 1e-3). Benchmark-only: it is not an installed controller.
    """

    description = "DARTS mixture (first order), benchmark baseline"
    options = {
        "arch_lr": Option(float, 3e-4, "Adam learning rate of α"),
        "arch_weight_decay": Option(float, 1e-3, "Adam weight decay of α"),
    }

    def __init__(self, space: SearchSpace, options: Mapping[str, Any], seed: int) -> None:
        super().__init__(space, options, seed)
        self.alpha = {d.key: torch.zeros(len(d), requires_grad=True) for d in space.decisions()}
        self.optimizer = torch.optim.Adam(
            list(self.alpha.values()),
            lr=self.config["arch_lr"],
            betas=ARCH_ADAM_BETAS,
            weight_decay=self.config["arch_weight_decay"],
        )

    @hookimpl
    def sample_architecture(self) -> list[Architecture]:
        paths = {}
        for key, alpha in self.alpha.items():
            gates = torch.softmax(alpha, dim=0)
            paths[key] = tuple(GatedChoice(index, gates[index]) for index in range(len(alpha)))
        return [Architecture(paths)]

    @hookimpl
    def record_feedback(self, feedback: Sequence[Feedback]) -> None:
        for result in feedback:
            result.loss_tensor.backward(inputs=list(self.alpha.values()))

    @hookimpl
    def update_distribution(self) -> None:
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    @hookimpl
    def derive_genotype(self, space: SearchSpace) -> Genotype:
        return space.genotype_from_scores(self.report_distribution())

    @hookimpl
    def report_distribution(self) -> dict[str, list[float]]:
        return {key: torch.softmax(alpha.detach(), 0).tolist() for key, alpha in self.alpha.items()}


@attrs.frozen
class Method:
    """One search method of a quality comparison: an installed controller (or the DARTS mixture) and its budget."""

    label: str
    controller: str
    options: dict[str, Any]
    epochs: int


def pick_methods(every: Mapping[str, Method], names: Sequence[str]) -> list[Method]:
    """The methods called ``names`` (command-line names), in that order; an unknown name exits listing them."""
    unknown = sorted(set(names) - set(every))
    if unknown:
        raise SystemExit(f"unknown methods {', '.join(unknown)}; choose from {', '.join(every)}")
    return [every[name] for name in names]


def build_controller(name: str, space: SearchSpace, given: Mapping[str, Any], seed: int) -> Controller:
    """An installed controller by entry-point name, or the DARTS mixture for ``darts``."""
    cls = DartsMixture if name == DARTS else load_plugins().controller_entry(name).load()
    return cls(space, resolve_options(cls.options, given, f"controller {name!r}"), seed)


Configurations = dict[str, tuple[str, dict[str, Any]]]
"""Label → (controller name, controller options)."""

def configurations(
    controllers: Sequence[str], parsec_k: Sequence[int], eoinas_warmup: bool
) -> Configurations:
    """What to measure: PARSEC once per K; EoiNAS while α learns (its costly phase) and, if asked,
    also in its weights-only warm-up."""
    result: Configurations = {}
    for name in controllers:
        if name == "parsec":
            result.update({f"parsec K={k}": ("parsec", {"samples": k}) for k in parsec_k})
        elif name == "eoinas":
            result["eoinas"] = ("eoinas", {"warmup": 0})
            if eoinas_warmup:
                result["eoinas warm-up"] = ("eoinas", {"warmup": SEARCH_EPOCHS})
        else:
            result[name] = (name, {})
    return result


# ---------------------------------------------------------------------------- the engine's step


class TimedHooks(Hooks):
    """The run's hooks with the seconds of each call recorded and the last samples kept."""

    def __init__(self, hooks: Hooks) -> None:
        super().__init__(hooks.pm, hooks.providers)
        self.seconds: dict[str, float] = {}
        self.calls = 0
        self.samples: list[Architecture] = []

    def reset(self) -> None:
        self.seconds = {}
        self.calls = 0

    def _timed(self, name: str, call: Callable[..., Any], *args: Any) -> Any:
        started = time.perf_counter()
        result = call(*args)
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
        self.calls += 1
        return result

    def sample_architecture(self, space: SearchSpace, step: Step) -> list[Architecture]:
        self.samples = self._timed("sample_architecture", super().sample_architecture, space, step)
        return self.samples

    def record_feedback(
        self, space: SearchSpace, samples: Sequence[Architecture], feedback: Sequence[Feedback], step: Step
    ) -> None:
        self._timed("record_feedback", super().record_feedback, space, samples, feedback, step)

    def sample_weights(
        self, space: SearchSpace, samples: Sequence[Architecture], feedback: Sequence[Feedback], step: Step
    ) -> list[float]:
        return self._timed("sample_weights", super().sample_weights, space, samples, feedback, step)

    def update_distribution(self, space: SearchSpace, step: Step) -> None:
        self._timed("update_distribution", super().update_distribution, space, step)


@attrs.define
class TimedStep(SearchStep):
    """The engine's step, with the seconds of its feedback forwards and weight update accumulated."""

    compute: dict[str, float] = attrs.field(factory=dict)

    def feedback(self, sample: Architecture, x: torch.Tensor, y: torch.Tensor) -> Feedback:
        started = time.perf_counter()
        result = super().feedback(sample, x, y)
        self._add("feedback", started)
        return result

    def train_weights(
        self, samples: Sequence[Architecture], weights: Sequence[float], x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        started = time.perf_counter()
        result = super().train_weights(samples, weights, x, y)
        self._add("train_weights", started)
        return result

    def _add(self, name: str, started: float) -> None:
        synchronize(self.precision.device)
        self.compute[name] = self.compute.get(name, 0.0) + time.perf_counter() - started


class StepHarness:
    """The search engine's own step, on a space of any data shape, without a dataset or run folder.

    The step (sample → feedback per sample → record_feedback → sample_weights → train the weights →
    update_distribution) is :class:`~nasplug.search.step.SearchStep`, the one a search runs, so the
    benchmarks measure exactly that, on one process, the supernet training itself. ``compute``
    holds the seconds of the last step's feedback forwards and weight update.
    """

    def __init__(
        self,
        space: SearchSpace,
        controller: Controller,
        name: str,
        device: torch.device,
        hooks: Hooks | None = None,
        precision: Precision | None = None,
    ) -> None:
        precision = precision or Precision()
        config = SearchConfig(space=space.name, controller=name, device=str(device), amp=precision.amp,
                              channels_last=precision.channels_last)
        self.device = device
        self.space = space
        self.controller = controller
        self.hooks = TimedHooks(hooks or load_plugins())
        self.hooks.add_controller(controller, name)
        self.supernet: nn.Module = space.build_supernet().to(device)
        if precision.channels_last:
            self.supernet.to(memory_format=torch.channels_last)
        self.optimizer = sgd(self.supernet.parameters(), config.lr, config.momentum, config.weight_decay)
        self.precision = RunPrecision.choose(device, config.amp, config.channels_last)
        self._step = TimedStep(self.hooks, space, name, self.supernet, self.supernet, self.optimizer,
                               config.grad_clip, self.precision, World(), lambda: "the benchmark diverged")

    @property
    def compute(self) -> dict[str, float]:
        return self._step.compute

    def step(self, step: Step, train: tuple, search: tuple) -> dict[str, torch.Tensor]:
        """One engine step; resets the per-step timings first."""
        self.hooks.reset()
        self._step.compute = {}
        return self._step(step, self.precision.batch(train), self.precision.batch(search))


def make_step(index: int, steps_per_epoch: int) -> Step:
    """Global step ``index`` of a :data:`SEARCH_EPOCHS` search; an epoch ends every ``steps_per_epoch``."""
    epoch, position = divmod(index, steps_per_epoch)
    return Step(epoch, position, steps_per_epoch, SEARCH_EPOCHS, epoch_end=position == steps_per_epoch - 1)


def synthetic_batches(
    shape: DataShape, batch_size: int, seed: int, device: torch.device
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """A fixed (train, search) pair of random batches: compute, not data loading, is measured."""
    generator = torch.Generator().manual_seed(seed)

    def batch() -> tuple[torch.Tensor, torch.Tensor]:
        size = (batch_size, shape.in_channels, shape.input_size, shape.input_size)
        x = torch.randn(size, generator=generator)
        y = torch.randint(shape.num_classes, (batch_size,), generator=generator)
        return x.to(device), y.to(device)

    return batch(), batch()


# ---------------------------------------------------------------------------- the standalone child


@attrs.frozen
class Precision:
    """bf16 autocast and the channels-last layout, applied alike to the engine's step and the child."""

    amp: bool = False
    channels_last: bool = False

    def autocast(self, device: torch.device) -> torch.autocast:
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.amp)

    def layout(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last and x.dim() == 4 else x


class ChildTrainer:
    """A standalone child (``space.build_supernet(only=arch)``) trained exactly as the engine trains.

    The same optimizer settings, the same loss (on fp32 logits, as the engine computes
    it under autocast), clipping and bookkeeping; one :meth:`evaluate` is the engine's
    feedback forward, one :meth:`train_step` its weight update for a single sample.
    """

    def __init__(
        self, space: SearchSpace, arch: Architecture, device: torch.device, precision: Precision | None = None
    ) -> None:
        config = SearchConfig(space=space.name, controller="child")
        self.arch = arch
        self.device = device
        self.precision = precision or Precision()
        self.grad_clip = config.grad_clip
        self.model = space.build_supernet(only=arch).to(device)
        if self.precision.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.optimizer = torch.optim.SGD(
            self.model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )

    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        with torch.no_grad(), self.precision.autocast(self.device):
            logits = self.model(self.precision.layout(x), self.arch).float()
            loss = F.cross_entropy(logits, y)
        return float(loss), float((logits.argmax(1) == y).float().mean())

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        self.optimizer.zero_grad(set_to_none=True)
        with self.precision.autocast(self.device):
            logits = self.model(self.precision.layout(x), self.arch).float()
        loss = F.cross_entropy(logits, y)
        loss.backward()
        if self.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.optimizer.step()
        return float(loss.detach()), float((logits.detach().argmax(1) == y).float().mean())


# ---------------------------------------------------------------------------- output


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def save(path: Path, data: Mapping[str, Any]) -> None:
    write_json(Path(path), dict(data))
    print(f"\nwrote {path}")


def worker_result(data: Mapping[str, Any]) -> None:
    """A subprocess's answer: one JSON line on stdout (the parent reads the last line)."""
    print(json.dumps(data), flush=True)

