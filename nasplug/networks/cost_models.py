"""nasplug's built-in cost models: analytical parameters and multiply-adds, and proxyless-mbv2's latency table.

Registered like a plugin module (``nasplug.plugin.discovery.BUILTINS``) through the
``list_cost_models`` hook, so a third party's cost model sits beside them on equal terms.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from pathlib import Path
from typing import Any, ClassVar

import torch

from nasplug.core.architecture import Architecture
from nasplug.core.cost import CostError, CostModel
from nasplug.core.markers import hookimpl
from nasplug.core.space import SearchSpace
from nasplug.networks.cost import count_macs, count_parameters
from nasplug.networks.lookup_table import load_latency_table
from nasplug.spaces.proxyless import ProxylessSpace


def _plain(architecture: Architecture) -> Architecture:
    """The same executed choices without gates (a cost depends on what runs, not on its weights)."""
    return Architecture(architecture.choices())


Counts = tuple[int, int]
"""(parameters, multiply-adds of a one-image eval forward)."""

KNOWN = 256
"""How many distinct samples a non-additive analytical model keeps counted (least recently used dropped)."""


class _Analytical(CostModel):
    """Counts the child the sample runs in the search network: ``space.build_supernet(only=sample)``.

    Priced at the search network's size (its layers, channels and input size); parameters of an
    auxiliary head are not counted. Each distinct sample is counted once (the last :data:`KNOWN` kept).
    At fixed shapes an op's parameters and multiply-adds do not depend on the other decisions' choices,
    so the counts are additive: the first :meth:`decision_costs` (a gradient-based controller's step)
    counts a base child (choice 0 everywhere) and each single swap from it once (1 + Σ choices builds),
    checks the sum on two other children, and from then on prices any sample and every swap of it by
    look-up. Where that check fails (a space whose shapes depend on choices) every swap is counted.
    """

    def __init__(self, space: SearchSpace, argument: str | None = None) -> None:
        super().__init__(space, argument)
        self._known: OrderedDict[tuple, Counts] = OrderedDict()
        self._table: tuple[Counts, dict[str, list[Counts]]] | None = None
        self._additive: bool | None = None

    def _measure(self, choices: dict[str, int]) -> Counts:
        key = tuple(sorted(choices.items()))
        if key in self._known:
            self._known.move_to_end(key)
            return self._known[key]
        plain = Architecture.single_path(choices)
        with torch.random.fork_rng(devices=[]):  # building draws weights: the run's random stream is not touched
            child = self.space.build_supernet(only=plain)
        self._known[key] = counts = (count_parameters(child)[0],
                                     count_macs(child, self.space.data, lambda x: child(x, plain)))
        if len(self._known) > KNOWN:
            self._known.popitem(last=False)
        return counts

    def _per_choice(self) -> tuple[Counts, dict[str, list[Counts]]] | None:
        """(base counts, per decision each choice's difference from choice 0), or None if not additive."""
        if self._additive is None:
            decisions = self.space.decisions()
            base_choices = {d.key: 0 for d in decisions}
            base = self._measure(base_choices)
            rows = {d.key: [_minus(self._measure({**base_choices, d.key: k}), base) for k in range(len(d))]
                    for d in decisions}
            self._table = (base, rows)
            probes = ({d.key: len(d) - 1 for d in decisions}, {d.key: i % len(d) for i, d in enumerate(decisions)})
            self._additive = all(self._from_table(probe) == self._measure(probe) for probe in probes)
        return self._table if self._additive else None

    def _from_table(self, choices: dict[str, int]) -> Counts:
        assert self._table is not None
        base, rows = self._table
        params, macs = base
        for key, choice in choices.items():
            params, macs = params + rows[key][choice][0], macs + rows[key][choice][1]
        return params, macs

    def counts(self, architecture: Architecture) -> Counts:
        """(parameters, multiply-adds of a one-image eval forward) of the sample's child."""
        choices = architecture.choices()
        single = {key: indices[0] for key, indices in choices.items() if len(indices) == 1}
        complete = len(single) == len(choices) and set(single) == {d.key for d in self.space.decisions()}
        if complete and self._additive:  # the table exists once a gradient step asked for decision_costs
            return self._from_table(single)
        return self._measure_paths(architecture)

    def _measure_paths(self, architecture: Architecture) -> Counts:
        """A sample with a key absent or several paths (a mixture): counted as it runs, not cached."""
        plain = _plain(architecture)
        if all(len(paths) == 1 for paths in plain.paths.values()):
            return self._measure({key: paths[0].choice for key, paths in plain.paths.items()})
        with torch.random.fork_rng(devices=[]):
            child = self.space.build_supernet(only=plain)
        return count_parameters(child)[0], count_macs(child, self.space.data, lambda x: child(x, plain))

    def _value(self, counts: Counts) -> float:
        raise NotImplementedError

    def cost(self, architecture: Architecture) -> float:
        return self._value(self.counts(architecture))

    def decision_costs(self, architecture: Architecture) -> dict[str, list[float]]:
        """Additive: the total with one decision's counts swapped for each choice's, by look-up."""
        table = self._per_choice()
        current = architecture.choices()
        if table is None or any(len(current.get(d.key, ())) != 1 for d in self.space.decisions()):
            return super().decision_costs(architecture)
        total = self.counts(architecture)
        rows = table[1]
        return {key: [self._value((total[0] - rows[key][indices[0]][0] + swap[0],
                                   total[1] - rows[key][indices[0]][1] + swap[1])) for swap in rows[key]]
                for key, indices in current.items()}


def _minus(a: Counts, b: Counts) -> Counts:
    return a[0] - b[0], a[1] - b[1]


class Parameters(_Analytical):
    description = "parameters (millions) of the sampled child of the search network, counted"
    quantity = "params"

    def _value(self, counts: Counts) -> float:
        return counts[0] / 1e6


class MultiplyAdds(_Analytical):
    description = "multiply-adds (millions) of one image through the sampled child of the search network"
    quantity = "madds"

    def _value(self, counts: Counts) -> float:
        return counts[1] / 1e6


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
