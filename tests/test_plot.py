"""`nasplug plot` on finished tiny runs of every seed controller, and the pruning events it marks."""

import json

import pytest
from click.testing import CliRunner

from nasplug.cli import main

pytest.importorskip("matplotlib")

from nasplug.plots import PlotError, plot_run  # noqa: E402
from nasplug.plugin import load_plugins  # noqa: E402
from nasplug.plots.history import Pruning, prunings  # noqa: E402

pytestmark = pytest.mark.slow

TINY = ["--dataset", "digits", "--batch-size", "128", "--epochs", "2", "--no-eval-derived", "--quiet"]
DARTS = ["--space", "darts-cell", "--layers", "3", "--channels", "4"]
RUNS = {
    "mdenas": [*DARTS, "--controller", "mdenas"],
    "parsec": ["--space", "proxyless-mbv2", "--controller", "parsec", "-o", "samples=2",
               "-o", "width_mult=0.25"],
    "eoinas": [*DARTS, "--controller", "eoinas", "-o", "warmup=1", "-o", "interval=1", "--epochs", "3"],
}
PICTURES = ["architecture", "distribution", "curves"]


@pytest.fixture(scope="module", params=list(RUNS))
def finished(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(request.param) / "run"
    result = CliRunner().invoke(main, ["run", *TINY, *RUNS[request.param], "--out", str(out)])
    assert result.exit_code == 0, result.output
    return request.param, out


def test_plot_writes_every_picture_as_png_and_svg(finished):
    controller, run_dir = finished
    result = CliRunner().invoke(main, ["plot", str(run_dir)])
    assert result.exit_code == 0, result.output
    for name in PICTURES:
        png, svg = run_dir / "plots" / f"{name}.png", run_dir / "plots" / f"{name}.svg"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        assert b"<svg" in svg.read_bytes()[:2000] and svg.stat().st_size > 10_000
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    record = history[-1]
    assert set(record["choices"]) == set(record["distribution"])
    assert all(len(record["choices"][k]) == len(record["distribution"][k]) for k in record["choices"])
    if controller == "eoinas":  # one prune per decision after epochs 2 and 3 (warmup 1, interval 1)
        assert {event.epoch for event in prunings(history)} == {2, 3}
        assert len(prunings(history)) == 2 * len(record["distribution"])


def test_prunings_are_the_choices_whose_probability_falls_to_zero():
    records = [{"epoch": 1, "distribution": {"e": [0.5, 0.25, 0.25]}, "prunes": True},
               {"epoch": 2, "distribution": {"e": [0.6, 0.4, 0.0]}, "prunes": True},
               {"epoch": 3, "distribution": {"e": [1.0, 0.0, 0.0]}, "prunes": True}]
    assert prunings(records) == [Pruning(3, "e", 1), Pruning(2, "e", 2)]


def test_a_folder_without_history_is_a_clear_error(tmp_path):
    with pytest.raises(PlotError, match="no history.jsonl"):
        plot_run(tmp_path, hooks=load_plugins())
    result = CliRunner().invoke(main, ["plot", str(tmp_path)])
    assert result.exit_code == 1 and result.output.startswith("Error: ") and "Traceback" not in result.output


def test_curves_draw_the_derived_genotypes_tabulated_accuracy_where_the_space_has_a_table():
    from nasplug.plots.history import curves_figure

    records = [{"epoch": epoch, "train_accuracy": 0.5, "entropy": 1.0, "entropy_max": 2.0,
                "distribution": {"e": [0.5, 0.5]},
                "benchmark": {"CIFAR-10 test accuracy (%)": value, "parameters (M)": 1.0}}
               for epoch, value in ((1, 80.0), (2, 93.5))]
    axes = curves_figure(records, "t").axes
    assert len(axes) == 5  # entropy, accuracy, benchmark; loss, learning rate
    lines = axes[2].get_lines()
    assert [line.get_label() for line in lines] == ["CIFAR-10 test accuracy (%)"]
    assert list(lines[0].get_ydata()) == [80.0, 93.5]
    del records[0]["benchmark"], records[1]["benchmark"]
    assert len(curves_figure(records, "t").axes) == 4
