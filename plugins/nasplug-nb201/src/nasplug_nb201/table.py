"""The benchmark's facts about every cell, shipped with this distribution and read offline.

``data/nb201.npz`` (1.6 MB) holds, per cell, the 200-epoch test accuracies on CIFAR-10,
CIFAR-100 and ImageNet16-120 (means over the benchmark's seeds), the 12-epoch schedule's
valid/test accuracies, params, FLOPs (of the CIFAR-10 network) and latencies on 27 devices, indexed
by the cell's code (:attr:`Nb201Genotype.code`). Loading it takes about 20 ms and a few MB.
"""

from __future__ import annotations

import functools
import zipfile
from importlib import resources

import attrs
import numpy as np

from nasplug import NasplugError
from nasplug_nb201.genotype import CELLS, Nb201Genotype

FIELDS = (
    "cifar10_test", "cifar100", "imagenet16",
    "cifar10_valid_12ep", "cifar10_test_12ep", "cifar100_valid_12ep", "cifar100_test_12ep",
    "imagenet16_valid_12ep", "imagenet16_test_12ep",
    "params_M", "flops_M",
)
"""The per-cell fields shipped, named as in the source table (accuracies in percent)."""

ACCURACIES = {
    "cifar10_test": "CIFAR-10 test accuracy",
    "cifar100": "CIFAR-100 test accuracy",
    "imagenet16": "ImageNet16-120 test accuracy",
}
"""The 200-epoch accuracies (benchmark's protocol, network N = 5, C = 16) and how they are named."""


class TableError(NasplugError, RuntimeError):
    """The shipped table is missing or damaged (a broken installation)."""


@attrs.frozen
class Nb201Table:
    """Column arrays over all 15,625 cells, indexed by cell code."""

    columns: dict[str, np.ndarray]
    index: np.ndarray
    latency_ms: np.ndarray
    devices: tuple[str, ...]

    def value(self, genotype: Nb201Genotype, field: str) -> float:
        return float(self.columns[field][genotype.code])

    def percentile(self, genotype: Nb201Genotype, field: str = "cifar10_test") -> float:
        """Share of the space's cells (percent) that score at most this cell's ``field``."""
        column = self.columns[field]
        return float(100.0 * np.mean(column <= column[genotype.code]))

    def latency(self, genotype: Nb201Genotype) -> dict[str, float]:
        return dict(zip(self.devices, map(float, self.latency_ms[genotype.code])))


@functools.cache
def load_table() -> Nb201Table:
    """The shipped table, read once per process."""
    source = resources.files("nasplug_nb201") / "data" / "nb201.npz"
    try:
        with resources.as_file(source) as path, np.load(path) as data:
            columns = {field: data[field] for field in FIELDS}
            table = Nb201Table(columns, data["index"], data["latency_ms"], tuple(map(str, data["devices"])))
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise TableError(f"the NAS-Bench-201 table shipped with nasplug-nb201 ({source}) cannot be read "
                         f"({exc}); reinstall the package") from None
    short = [name for name, column in (*columns.items(), ("index", table.index), ("latency_ms", table.latency_ms))
             if len(column) != CELLS]
    if short:
        raise TableError(f"the NAS-Bench-201 table shipped with nasplug-nb201 ({source}) is damaged: "
                         f"{', '.join(short)} do not hold {CELLS} cells; reinstall the package")
    return table
