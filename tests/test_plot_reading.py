"""`nasplug plot` as a researcher reads it (issue 26, item 5): pruning marked only where the controller prunes,
the derived choice marked, one colour scale, loss and learning-rate curves, several runs overlaid; and the
one-line errors of item 8 for a folder that does not exist."""

import json

import pytest
from click.testing import CliRunner

from nasplug.cli import main

pytest.importorskip("matplotlib")

from matplotlib.patches import Rectangle  # noqa: E402

from nasplug.plots.compare import ComparedRun, comparison_figure, labels  # noqa: E402
from nasplug.plots.history import Pruning, curves_figure, distribution_figure, prunings  # noqa: E402

pytestmark = pytest.mark.slow

TINY = ["--space", "darts-cell", "--layers", "3", "--channels", "4", "--dataset", "digits", "--batch-size", "128",
        "--epochs", "2", "--quiet"]


def clipped(prunes):
    """Three epochs in which choice 2 of decision e falls to 0 (MdeNAS clips, EoiNAS prunes)."""
    return [{"epoch": 1, "distribution": {"e": [0.5, 0.25, 0.25]}, "prunes": prunes},
            {"epoch": 2, "distribution": {"e": [0.6, 0.4, 0.0]}, "prunes": prunes},
            {"epoch": 3, "distribution": {"e": [0.5, 0.5, 0.0]}, "prunes": prunes}]


def test_a_probability_clipped_at_zero_is_no_pruning_unless_the_controller_prunes():
    assert prunings(clipped(prunes=False)) == []
    assert prunings(clipped(prunes=True)) == [Pruning(2, "e", 2)]


def texts(figure):
    return [text.get_text() for ax in figure.axes for text in ax.texts] + [figure._suptitle.get_text()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    made = {}
    for name, extra in {"mdenas-seed0": ["--controller", "mdenas", "--seed", "0"],
                        "mdenas-seed1": ["--controller", "mdenas", "--seed", "1"],
                        "eoinas": ["--controller", "eoinas", "-o", "warmup=1", "-o", "interval=1"]}.items():
        result = CliRunner().invoke(main, ["run", *TINY, *extra, "--out", str(root / name)])
        assert result.exit_code == 0, result.output
        made[name] = root / name
    return made


def history(run_dir):
    return [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]


def test_the_controllers_say_whether_they_prune_and_only_eoinas_is_marked(runs):
    assert {record["prunes"] for record in history(runs["mdenas-seed0"])} == {False}
    assert {record["prunes"] for record in history(runs["eoinas"])} == {True}
    mdenas = history(runs["mdenas-seed0"])
    for record in mdenas:  # even a probability clipped to exactly 0 draws no mark
        record["distribution"][next(iter(record["distribution"]))][0] = 0.0 if record["epoch"] > 1 else 0.5
    figure = curves_figure(mdenas, "mdenas")
    assert not any("0" in text and "p = 0" in text for text in texts(figure))
    assert not any(line.get_color() == "red" for ax in figure.axes for line in ax.lines)
    assert "pruned" not in texts(distribution_figure(mdenas, "mdenas"))[-1]
    eoinas = history(runs["eoinas"])
    assert "pruned" in texts(distribution_figure(eoinas, "eoinas"))[-1]


def test_the_heatmaps_mark_the_derived_choice_on_one_colour_scale(runs):
    records = history(runs["mdenas-seed0"])
    figure = distribution_figure(records, "mdenas")
    derived = records[-1]["derived"]
    boxes = {(ax.get_title(), round(patch.get_y() + 0.5)) for ax in figure.axes for patch in ax.patches
             if isinstance(patch, Rectangle) and not patch.get_fill()}
    assert boxes == {(key, choice) for key, choices in derived.items() for choice in choices}
    assert len(boxes) == 16  # darts-cell: two edges per node, four nodes, two cells
    images = [ax.images[0] for ax in figure.axes if ax.images]
    assert len({(image.norm.vmin, image.norm.vmax) for image in images}) == 1


def test_the_curves_include_loss_and_learning_rate(runs):
    records = history(runs["mdenas-seed0"])
    figure = curves_figure(records, "mdenas")
    titles = [ax.get_title() for ax in figure.axes]
    assert "loss" in titles and any(title.startswith("learning rate") for title in titles)
    rate = next(ax for ax in figure.axes if ax.get_title().startswith("learning rate"))
    assert list(rate.lines[0].get_ydata()) == [record["lr"] for record in records]


def test_plot_of_several_runs_overlays_them(runs, tmp_path):
    result = CliRunner().invoke(main, ["plot", str(runs["mdenas-seed0"]), str(runs["mdenas-seed1"]),
                                       "--out", str(tmp_path), "--format", "png"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "comparison.png").read_bytes()[:4] == b"\x89PNG"
    compared = [ComparedRun(name, history(runs[name]), json.loads((runs[name] / "config.json").read_text()))
                for name in ("mdenas-seed0", "mdenas-seed1")]
    assert labels(compared) == ["mdenas-seed0 (seed 0)", "mdenas-seed1 (seed 1)"]
    figure = comparison_figure(compared)
    assert all(len(ax.lines) == 2 for ax in figure.axes)


@pytest.mark.parametrize("args", [["run", "--resume", "runs/nope"], ["train", "--resume", "runs/nope"],
                                  ["plot", "runs/nope"]])
def test_a_missing_folder_is_a_one_line_error(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [result.output.strip()] and "runs/nope" in result.output
    assert "Usage" not in result.output and not (tmp_path / "runs").exists()
