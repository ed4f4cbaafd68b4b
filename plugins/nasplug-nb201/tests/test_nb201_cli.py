"""nas-bench-201 through the command line: listed, searched by every controller, shown, trained, plotted."""

import json

import pytest

from nasplug.plugin import load_plugins
from nasplug.recipes import load_recipe
from nasplug.testing import assert_one_line_error, run_cli

pytestmark = pytest.mark.slow

OPTIMUM = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
TINY = ["--space", "nas-bench-201", "--dataset", "digits", "--channels", "4", "-o", "cells=1", "--epochs", "2",
        "--batch-size", "64", "--device", "cpu", "--quiet", "--search-split", "200"]
CONTROLLER_OPTIONS = {"eoinas": ["-o", "warmup=1", "-o", "interval=1", "-o", "keep="], "parsec": ["-o", "samples=2"]}


def test_the_space_is_listed_by_its_distribution():
    lines = [line.split() for line in run_cli("plugins").output.splitlines()]
    assert ["nas-bench-201", "nasplug-nb201"] in [line[:2] for line in lines if line]


@pytest.mark.parametrize("controller", ["random", "mdenas", "parsec", "eoinas"])
def test_every_controller_searches_the_space_and_each_epoch_records_the_true_accuracy(tmp_path, controller):
    out = tmp_path / controller
    run_cli("run", "--controller", controller, *TINY, *CONTROLLER_OPTIONS.get(controller, []), "--out", out)
    records = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    space = load_plugins().space_entry("nas-bench-201").cls
    for record in records:
        genotype = space.parse_genotype(record["genotype"], "history")
        assert record["benchmark"] == pytest.approx(dict(space.benchmark_results(genotype)))
    shown = run_cli("show", out).output
    assert "CIFAR-10 test accuracy (%)" in shown and "ImageNet16-120 test accuracy (%)" in shown
    if controller == "mdenas":  # plot draws the true-quality curve
        pytest.importorskip("matplotlib")
        run_cli("plot", out, "--format", "png")
        assert (out / "plots" / "curves.png").stat().st_size > 10_000


def test_show_and_info_take_the_benchmarks_cell_string(tmp_path):
    shown = run_cli("show", OPTIMUM).output
    assert "node 3 = skip_connect(node 0) + nor_conv_3x3(node 1) + nor_conv_1x1(node 2)" in shown
    assert "94.37" in shown
    info = run_cli("info", "--genotype", OPTIMUM).output
    assert "parameters     1.07" in info
    assert "cells=5, channels=16" in info and "94.37" in info
    other_n = run_cli("info", "--genotype", OPTIMUM, "-o", "cells=2").output
    assert "94.37" in other_n  # a cell is in the table whatever N or C its network has
    error = run_cli("show", OPTIMUM.replace("nor_conv_1x1", "sep_conv_3x3"), exit_code=None)
    assert_one_line_error(error, "'sep_conv_3x3' is not a NAS-Bench-201 op", "nor_conv_3x3")
    error = run_cli("show", "|nor_conv_3x3~0|+|none~0|", exit_code=None)
    assert_one_line_error(error, "node groups", "expected 3")
    assert "94.37" in run_cli("show", f"  {OPTIMUM} ").output  # pasted with spaces
    error = run_cli("show", "nor_conv_3x3~0|+" * 30, exit_code=None)  # longer than any file name
    assert_one_line_error(error, "cell string")


def test_the_training_recipe_follows_the_benchmarks_protocol():
    recipe = load_recipe("nb201-cifar10-train", load_plugins())
    assert recipe.settings["epochs"] == 200 and recipe.settings["batch_size"] == 256
    assert recipe.settings["lr"] == 0.1 and recipe.settings["lr_min"] == 0.0
    assert recipe.settings["nesterov"] is True and recipe.settings["weight_decay"] == 5e-4
    assert recipe.settings["cutout"] == 0 and recipe.settings["auxiliary_weight"] == 0.0
    assert recipe.table("network") == {"cells": 5, "channels": 16}
    search = load_recipe("nb201-cifar10-search", load_plugins())
    assert search.settings["space"] == "nas-bench-201" and search.settings["train_fraction"] == 0.5
    assert search.settings["batch_size"] == 64 and search.settings["nesterov"] is True


def test_train_follows_the_benchmarks_protocol_without_being_asked(tmp_path):
    """No --recipe: the space names nb201-cifar10-train as its own, so a cell string trains as the table's did."""
    out = tmp_path / "train"
    run_cli("train", "--genotype", OPTIMUM, "--dataset", "digits",
            "--epochs", "1", "--batch-size", "64", "-o", "cells=1", "-o", "channels=4", "--device", "cpu",
            "--quiet", "--out", out)
    config = json.loads((out / "config.json").read_text())
    assert config["nesterov"] is True and config["network_options"] == {"cells": 1, "channels": 4}
    assert (config["lr"], config["weight_decay"], config["cutout"], config["auxiliary_weight"]) == (0.1, 5e-4, 0, 0)
    assert json.loads((out / "results.json").read_text())["top1"] > 0.1
