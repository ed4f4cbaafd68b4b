"""NAS-Bench-201's latency tables as cost models: one per device the benchmark measured (HW-NAS-Bench).

``nb201-latency-<device>`` prices a cell by the shipped table's latency (ms) of the benchmark's
network (N = 5, C = 16) with that cell on ``<device>``: the truth the table holds, not an estimate.
"""

from __future__ import annotations

from nasplug import Architecture, CostError, CostModel, SearchSpace, genotype_of
from nasplug_nb201.genotype import Nb201Genotype
from nasplug_nb201.table import load_table

PREFIX = "nb201-latency-"


class Nb201Latency(CostModel):
    """The table's latency of a nas-bench-201 cell on :attr:`device` (set by each listed subclass)."""

    quantity = "latency"
    device = ""

    def __init__(self, space: SearchSpace, argument: str | None = None) -> None:
        super().__init__(space, argument)
        if space.name != "nas-bench-201":
            raise CostError(f"cost model {PREFIX}{self.device} prices the nas-bench-201 space, not {space.name!r}")
        table = load_table()
        self.column = table.latency_ms[:, table.devices.index(self.device)]

    def cost(self, architecture: Architecture) -> float:
        genotype: Nb201Genotype = genotype_of(self.space, architecture)  # type: ignore[assignment]
        return float(self.column[genotype.code])


def device_cost_models() -> dict[str, type[CostModel]]:
    """One :class:`Nb201Latency` subclass per device of the shipped table, named ``nb201-latency-<device>``."""
    return {
        PREFIX + device: type(f"Nb201Latency_{device}", (Nb201Latency,), {
            "device": device,
            "description": f"NAS-Bench-201 table: latency (ms) of the N=5, C=16 network on {device}",
        })
        for device in load_table().devices
    }
