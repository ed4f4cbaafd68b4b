"""Lookups in the shipped table: the benchmark's known cells, speed, and agreement with the full table."""

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from nasplug_nb201 import Nb201Genotype, Nb201Space
from nasplug_nb201.genotype import CELLS
from nasplug_nb201 import table as table_module
from nasplug_nb201.table import FIELDS, TableError, load_table

SHARED_TABLE = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "nb201" / "nb201.json.gz"


def test_known_cells_and_the_space_statistics():
    table = load_table()
    assert round(table.value(Nb201Genotype(("skip_connect",) * 6), "cifar10_test"), 2) == 54.30
    assert round(table.value(Nb201Genotype(("nor_conv_3x3",) * 6), "cifar10_test"), 2) == 93.76
    best = Nb201Space.published_genotypes()["NB201_OPTIMUM"]
    assert round(table.value(best, "cifar10_test"), 2) == 94.37
    column = table.columns["cifar10_test"]
    assert round(float(column.max()), 2) == 94.37 and round(float(column.mean()), 2) == 87.06
    assert round(float(np.median(column)), 2) == 90.75
    assert table.percentile(best) == 100.0
    assert (table.index >= 0).all() and len(set(table.index.tolist())) == CELLS


def test_benchmark_results_name_the_three_datasets_percentile_and_costs():
    results = Nb201Space.benchmark_results(Nb201Genotype(("nor_conv_3x3",) * 6))
    assert round(results["CIFAR-10 test accuracy (%)"], 2) == 93.76
    assert {"CIFAR-100 test accuracy (%)", "ImageNet16-120 test accuracy (%)", "parameters, CIFAR-10 network (M)",
            "FLOPs, CIFAR-10 network (M)", "CIFAR-10 percentile in the space (%)"} <= set(results)


@pytest.mark.parametrize("damage", ["truncated", "empty", "short column"])
def test_a_damaged_table_is_a_clear_error(tmp_path, monkeypatch, damage):
    good = (Path(table_module.__file__).parent / "data" / "nb201.npz").read_bytes()
    (tmp_path / "data").mkdir()
    path = tmp_path / "data" / "nb201.npz"
    if damage == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        with np.load(Path(table_module.__file__).parent / "data" / "nb201.npz") as data:
            arrays = {name: data[name] for name in data.files}
        arrays["cifar100"] = arrays["cifar100"][:10]
        np.savez(path, **arrays)
    monkeypatch.setattr(table_module.resources, "files", lambda package: tmp_path)
    load_table.cache_clear()
    try:
        with pytest.raises(TableError, match="reinstall the package"):
            load_table()
    finally:
        load_table.cache_clear()


@pytest.mark.skipif(not SHARED_TABLE.is_file(), reason="the shared NAS-Bench-201 table is not on this machine")
def test_the_shipped_table_holds_the_full_tables_numbers_for_every_cell():
    with gzip.open(SHARED_TABLE, "rt") as handle:
        rows = json.load(handle)
    table = load_table()
    for arch, row in rows.items():
        genotype = Nb201Genotype.from_string(arch)
        assert table.index[genotype.code] == row["nb201_index"]
        for field in FIELDS:
            assert table.value(genotype, field) == pytest.approx(row[field], rel=1e-6), (arch, field)
        assert table.latency(genotype) == pytest.approx(row["latency_ms"], rel=1e-6)
