"""ProxylessNAS's per-block latency lookup table for proxyless-mbv2, built by measuring on the target device.

ProxylessNAS (§3.3) predicts a network's latency as the sum of its blocks' latencies, each measured
once per (block, candidate) on the device. :func:`build_latency_table` times every candidate of every
searchable block as a standalone timm block at that block's input shape, and the fixed frame (stem and
first block; feature mix and classifier) once each, under one :class:`LatencyProtocol`; `zero` costs
nothing (the block is left out of the network). The table is saved atomically with the protocol
(device, batch, precision, threads, input size, runs), the device's name, the software versions and
the unit, and refuses to price a space whose blocks or choices differ from the ones it measured.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import nn

from nasplug.core.cost import CostError
from nasplug.networks.latency import LatencyProtocol, device_name, measure_latency
from nasplug.runs.environment import environment_record
from nasplug.runs.files import read_json_file, write_json
from nasplug.spaces.proxyless import ProxylessSpace
from nasplug.spaces.proxyless.blocks import Classifier, feature_mix, first_block, mbconv, parse_choice, stem

TABLE_FORMAT = "nasplug-latency-table-1"
UNIT = "ms"
STATISTICS = ("median", "min")
"""What a table entry is of its timed runs: the median, or the minimum (the least disturbed run, for a
machine other jobs share: a short block's runs are rarely preempted, a whole network's often are)."""


@attrs.frozen
class LatencyTable:
    """Latency (ms) of the fixed frame and of every (block, choice), with how they were measured."""

    space_options: dict[str, Any]
    num_classes: int
    in_channels: int
    fixed_ms: float
    blocks: dict[str, dict[str, float]]
    report: dict[str, Any]
    """The protocol, the device's name and the software versions of the measurement."""
    statistic: str = "median"
    """Which of :data:`STATISTICS` each entry is."""

    @property
    def input_size(self) -> int:
        return int(self.report["protocol"]["input_size"])

    def network_ms(self, choices: Mapping[str, str]) -> float:
        """The predicted latency: the fixed frame plus each block's choice."""
        return self.fixed_ms + sum(self.blocks[key][choice] for key, choice in choices.items())

    def check_space(self, space: ProxylessSpace) -> None:
        """A CostError unless ``space`` has exactly the blocks and choices this table measured."""
        wanted = {decision.key: list(decision.choices) for decision in space.decisions()}
        held = {key: list(choices) for key, choices in self.blocks.items()}
        if wanted != held:
            missing = sorted(set(wanted) ^ set(held)) or [key for key in wanted if wanted[key] != held[key]][:3]
            raise CostError(f"the latency table was measured for space options {self.space_options}; this "
                            f"space's blocks or choices differ ({', '.join(missing)})")

    def shape(self) -> dict[str, Any]:
        """What sets the measured blocks' shapes: the space's options (width, ...), input size, classes, channels."""
        return {"space_options": self.space_options, "input_size": self.input_size,
                "num_classes": self.num_classes, "in_channels": self.in_channels}

    def check_shape(self, space: ProxylessSpace) -> None:
        """A CostError unless ``space`` has the options and data shape this table measured: a table of the
        deployed network (width 1.0, 224 px, 1000 classes) does not silently price a proxy's search."""
        wanted = {"space_options": dict(space.config), "input_size": space.data.input_size,
                  "num_classes": space.data.num_classes, "in_channels": space.data.in_channels}
        differ = [f"{name} {self.shape()[name]!r} here {value!r}" for name, value in wanted.items()
                  if self.shape()[name] != value]
        if differ:
            raise CostError(f"the latency table was measured at other shapes than this search's ({'; '.join(differ)}"
                            f"); to price this search with it anyway, use --cost-model proxyless-lut-other-shape:FILE")

    def priced_as(self) -> dict[str, Any]:
        """The table's shape options, device and protocol: what a run's latencies are priced as."""
        return {**self.shape(), "device_name": self.report.get("device_name"),
                "protocol": self.report.get("protocol"), "statistic": self.statistic}

    def to_json(self) -> dict[str, Any]:
        return {"format": TABLE_FORMAT, "unit": UNIT, **attrs.asdict(self)}


def block_sides(space: ProxylessSpace) -> list[int]:
    """The input side of each searchable block, then the side after the last (the feature mix's input)."""
    side = math.ceil(space.data.input_size / space.layout.stem_stride)  # the first block keeps stride 1
    sides = []
    for spec in space.layout.blocks:
        sides.append(side)
        side = math.ceil(side / spec.stride)
    return [*sides, side]


def build_latency_table(
    space: ProxylessSpace,
    protocol: LatencyProtocol,
    progress: Callable[[str], None] = lambda _line: None,
    statistic: str = "median",
) -> LatencyTable:
    """Time the fixed frame and every candidate of every block of ``space`` at ``space.data.input_size``;
    each entry is the ``statistic`` (:data:`STATISTICS`) of its timed runs."""
    if statistic not in STATISTICS:
        raise CostError(f"a latency table's statistic is one of {', '.join(STATISTICS)}, got {statistic!r}")
    layout = space.layout
    *sides, last_side = block_sides(space)

    def timed(module: nn.Module, channels: int, side: int) -> float:
        times = measure_latency(module, channels, attrs.evolve(protocol, input_size=side)).times_ms
        return statistics.median(times) if statistic == "median" else min(times)

    head = nn.Sequential(feature_mix(layout), Classifier(layout.feature_mix, space.data.num_classes))
    last_channels = layout.blocks[-1].out_chs if layout.blocks else layout.first_block_width
    fixed = (timed(nn.Sequential(stem(layout), first_block(layout)), layout.in_channels, space.data.input_size)
             + timed(head, last_channels, last_side))
    by_key = {spec.key: (spec, side) for spec, side in zip(layout.blocks, sides)}
    blocks: dict[str, dict[str, float]] = {}
    for decision in space.decisions():
        spec, side = by_key[decision.key]
        row = {}
        for name in decision.choices:
            candidate = parse_choice(name)
            row[name] = 0.0 if candidate is None else timed(
                mbconv(candidate, spec.in_chs, spec.out_chs, spec.stride, skip=True), spec.in_chs, side)
        blocks[decision.key] = row
        progress(f"{decision.key}: " + ", ".join(f"{name} {ms:.3f} ms" for name, ms in row.items()))
    device = torch.device(protocol.device)
    measured = {"protocol": attrs.evolve(protocol, input_size=space.data.input_size).to_json(),
                "device_name": device_name(device),
                "software": environment_record(protocol.threads, device, ())}
    return LatencyTable(dict(space.config), space.data.num_classes, space.data.in_channels, fixed, blocks,
                        measured, statistic)


def save_latency_table(table: LatencyTable, path: Path) -> None:
    write_json(Path(path), table.to_json())


def load_latency_table(path: Path) -> LatencyTable:
    """The table in ``path``; a CostError naming the file and the problem if it is not one."""
    data = read_json_file(Path(path), CostError, "latency table")
    if not isinstance(data, dict) or data.get("format") != TABLE_FORMAT:
        raise CostError(f"{path}: not a nasplug latency table (format {TABLE_FORMAT!r} expected)")
    if data.get("unit") != UNIT:
        raise CostError(f"{path}: the table's unit is {data.get('unit')!r}, nasplug's tables are in {UNIT}")
    try:
        blocks = {str(key): {str(name): float(ms) for name, ms in row.items()} for key, row in data["blocks"].items()}
        table = LatencyTable(dict(data["space_options"]), int(data["num_classes"]), int(data["in_channels"]),
                             float(data["fixed_ms"]), blocks, dict(data["report"]), str(data["statistic"]))
        if table.statistic not in STATISTICS:
            raise ValueError(f"statistic {table.statistic!r} is not one of {', '.join(STATISTICS)}")
        int(table.report["protocol"]["input_size"])  # the protocol must state the input size
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CostError(f"{path}: damaged latency table ({type(exc).__name__}: {exc})") from None
    return table
