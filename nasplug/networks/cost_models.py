"""nasplug's built-in cost models: analytical parameters and multiply-adds, and proxyless-mbv2's latency table.

Registered like a plugin module (``nasplug.plugin.discovery.BUILTINS``) through the
``list_cost_models`` hook, so a third party's cost model sits beside them on equal terms.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch.utils.flop_counter import FlopCounterMode

from nasplug.core.architecture import Architecture
from nasplug.core.cost import CostError, CostModel
from nasplug.core.markers import hookimpl
from nasplug.core.space import SearchSpace
from nasplug.networks.cost import count_parameters
from nasplug.networks.lookup_table import load_latency_table
from nasplug.spaces.proxyless import ProxylessSpace


def _plain(architecture: Architecture) -> Architecture:
    """The same executed choices without gates (a cost depends on what runs, not on its weights)."""
    return Architecture(architecture.choices())


class _Analytical(CostModel):
    """Counts the child the sample runs in the search network: ``space.build_supernet(only=sample)``.

    Priced at the search network's size (its layers, channels and input size), once per distinct
    sample; parameters of an auxiliary head are not counted.
    """

    def __init__(self, space: SearchSpace, argument: str | None = None) -> None:
        super().__init__(space, argument)
        self._known: dict[tuple, tuple[int, int]] = {}

    def counts(self, architecture: Architecture) -> tuple[int, int]:
        """(parameters, multiply-adds of a one-image eval forward) of the sample's child."""
        plain = _plain(architecture)
        key = tuple(sorted(plain.choices().items()))
        if key not in self._known:
            with torch.random.fork_rng(devices=[]):  # building draws weights: the run's random stream is not touched
                child = self.space.build_supernet(only=plain).eval()
            data = self.space.data
            x = torch.zeros(1, data.in_channels, data.input_size, data.input_size)
            counter = FlopCounterMode(display=False)
            with torch.no_grad(), counter:
                child(x, plain)
            self._known[key] = (count_parameters(child)[0], counter.get_total_flops() // 2)
        return self._known[key]


class Parameters(_Analytical):
    description = "parameters (millions) of the sampled child of the search network, counted"
    quantity = "params"

    def cost(self, architecture: Architecture) -> float:
        return self.counts(architecture)[0] / 1e6


class MultiplyAdds(_Analytical):
    description = "multiply-adds (millions) of one image through the sampled child of the search network"
    quantity = "madds"

    def cost(self, architecture: Architecture) -> float:
        return self.counts(architecture)[1] / 1e6


class ProxylessLookupTable(CostModel):
    """ProxylessNAS's latency predictor: the fixed frame plus each block's measured latency (ms)."""

    description = "proxyless-mbv2 latency (ms): sum of per-block latencies from `nasplug latency-table`"
    quantity = "latency"
    argument_help = "the table's JSON file, written by `nasplug latency-table`"

    def __init__(self, space: SearchSpace, argument: str | None = None) -> None:
        super().__init__(space, argument)
        if not isinstance(space, ProxylessSpace):
            raise CostError(f"cost model proxyless-lut prices the proxyless-mbv2 space, not {space.name!r}")
        path, _, recorded = str(argument).partition("#sha256=")
        self.path = Path(path).expanduser().resolve()
        self.table = load_latency_table(self.path)
        self.sha256 = hashlib.sha256(self.path.read_bytes()).hexdigest()
        if recorded and recorded != self.sha256:
            raise CostError(f"{self.path}: the latency table changed since this run started (sha256 {self.sha256}, "
                            f"the run recorded {recorded}); restore that file or start a new run")
        self.table.check_space(space)
        if not self.other_shape:
            self.table.check_shape(space)

    other_shape: ClassVar[bool] = False
    """Whether a table measured at other shape options may price this space (an explicit opt-in)."""

    def recorded_argument(self) -> str:
        return f"{self.path}#sha256={self.sha256}"

    def priced_as(self) -> dict[str, Any]:
        return self.table.priced_as()

    def _names(self, architecture: Architecture) -> dict[str, str]:
        names = {}
        for key, chosen in architecture.to_json(self.space.decisions()).items():
            if len(chosen) != 1:
                raise CostError(f"proxyless-lut prices single-path samples; {key!r} runs {len(chosen)} paths")
            names[key] = chosen[0]
        return names

    def cost(self, architecture: Architecture) -> float:
        return self.table.network_ms(self._names(architecture))

    def decision_costs(self, architecture: Architecture) -> dict[str, list[float]]:
        """Additive: the total with one block's latency swapped for each of its choices."""
        names = self._names(architecture)
        total = self.table.network_ms(names)
        return {
            key: [total - self.table.blocks[key][names[key]] + ms for ms in self.table.blocks[key].values()]
            for key in names
        }


class ProxylessLookupTableOtherShape(ProxylessLookupTable):
    """The same table, consenting to price a search at other shapes than it measured (a proxy's)."""

    description = ("proxyless-lut, allowed to price a search at other width, input size, classes or channels than "
                   "the table measured (e.g. the deployed network's table for a proxy search)")
    other_shape = True


@hookimpl
def list_cost_models() -> dict[str, type[CostModel]]:
    return {"params": Parameters, "madds": MultiplyAdds, "proxyless-lut": ProxylessLookupTable,
            "proxyless-lut-other-shape": ProxylessLookupTableOtherShape}
