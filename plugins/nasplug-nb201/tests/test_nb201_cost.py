"""NAS-Bench-201's per-device latency table as cost models: one per device, the table's own numbers."""

import pytest

from nasplug import CostError
from nasplug.plugin import load_plugins
from nasplug_nb201 import Nb201Genotype
from nasplug_nb201.table import load_table


def test_every_device_of_the_table_is_a_cost_model_pricing_a_cell_at_the_tables_latency():
    hooks = load_plugins()
    models = hooks.cost_models()
    table = load_table()
    assert {f"nb201-latency-{device}" for device in table.devices} <= set(models)
    assert models["nb201-latency-pixel3"].provider.distribution == "nasplug-nb201"
    space = hooks.build_space("nas-bench-201", hooks.dataset_shape("digits"), {"cells": 1, "channels": 4})
    cell = Nb201Genotype.from_string("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|"
                                     "nor_conv_3x3~1|skip_connect~2|", "test")
    for device in ("pixel3", "1080ti_1", "raspi4"):
        model = hooks.build_cost_model(f"nb201-latency-{device}", space)
        assert model.genotype_cost(cell) == pytest.approx(table.latency(cell)[device])
        assert model.unit == "ms"
    with pytest.raises(CostError, match="prices the nas-bench-201 space, not 'darts-cell'"):
        hooks.build_cost_model("nb201-latency-pixel3",
                               hooks.build_space("darts-cell", hooks.dataset_shape("digits"), {}))
