"""The csv and tensorboard loggers, switched on by --logger, for both `nasplug run` and `nasplug train`."""

import csv
import json
import math

import pytest
from click.testing import CliRunner

from nasplug.cli import main
from nasplug.loggers.csv import append_row

pytestmark = pytest.mark.slow

TINY_SEARCH = ["run", "--space", "darts-cell", "--controller", "random", "--dataset", "digits",
               "--layers", "3", "--channels", "4", "--batch-size", "128", "--epochs", "2",
               "--no-eval-derived"]
TINY_TRAIN = ["train", "--genotype", "DARTS_V2", "--dataset", "digits", "--layers", "3", "--channels", "4",
              "--epochs", "2", "--auxiliary-weight", "0", "--batch-size", "128"]


def invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def csv_rows(path):
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def scalars(folder, tag):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    return events, [(event.step, event.value) for event in events.Scalars(tag)] if tag else None


@pytest.fixture(scope="module")
def search_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("loggers") / "search"
    invoke(*TINY_SEARCH, "--logger", "csv,tensorboard", "--out", out)
    return out


def test_search_csv_holds_every_epoch_number_of_the_history(search_run):
    history, rows = jsonl(search_run / "history.jsonl"), csv_rows(search_run / "history.csv")
    assert len(rows) == len(history) == 2
    for record, row in zip(history, rows):
        assert int(row["epoch"]) == record["epoch"]
        for key in ("train_loss", "search_accuracy", "lr", "entropy", "entropy_max"):
            assert math.isclose(float(row[key]), record[key], rel_tol=1e-12)
        assert "genotype" not in row and "distribution" not in row


def test_search_tensorboard_events_hold_losses_and_named_choice_probabilities(search_run):
    history = jsonl(search_run / "history.jsonl")
    events, losses = scalars(search_run, "search/train_loss")
    assert [step for step, _ in losses] == [1, 2]
    assert all(math.isclose(value, record["train_loss"], rel_tol=1e-6)
               for (_, value), record in zip(losses, history))
    key = next(iter(history[-1]["distribution"]))
    tag = f"probability/{key}/{history[-1]['choices'][key][0]}"
    assert tag in events.Tags()["scalars"]
    assert math.isclose(events.Scalars(tag)[-1].value, history[-1]["distribution"][key][0], rel_tol=1e-6)


def test_train_calls_the_loggers_and_a_third_party_one(fake_dist, tmp_path):
    fake_dist("nasplug-mylog", {"nasplug.loggers": {"mine": "mylog:Mine"}}, {"mylog.py": """
        import json, pathlib
        import nasplug

        class Mine:
            @nasplug.hookimpl
            def train_epoch_finished(self, record, out_dir):
                with open(pathlib.Path(out_dir) / "mine.txt", "a") as handle:
                    handle.write(json.dumps(record["epoch"]) + "\\n")
    """})
    out = tmp_path / "train"
    invoke(*TINY_TRAIN, "--logger", "csv", "--logger", "mine,tensorboard", "--out", out)
    metrics, rows = jsonl(out / "metrics.jsonl"), csv_rows(out / "metrics.csv")
    assert [int(row["epoch"]) for row in rows] == [1, 2]
    assert all(math.isclose(float(row["test_top1"]), record["test_top1"])
               for row, record in zip(rows, metrics))
    assert (out / "mine.txt").read_text() == "1\n2\n"
    _, top1 = scalars(out, "train/test_top1")
    assert [step for step, _ in top1] == [1, 2]


def test_unknown_logger_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(main, [*TINY_SEARCH, "--logger", "csv,wandb", "--out", str(tmp_path / "x")])
    assert result.exit_code == 1
    expected = "Error: unknown logger 'wandb'; available: csv, tensorboard"
    assert result.output.strip().splitlines() == [expected]
    assert not (tmp_path / "x").exists()


def test_csv_rows_from_a_resumed_epoch_replace_the_old_ones(tmp_path):
    path = tmp_path / "history.csv"
    for epoch, loss in ((1, 0.9), (2, 0.8), (3, 0.7)):
        append_row(path, {"epoch": epoch, "train_loss": loss, "derived_accuracy": None, "genotype": {}})
    append_row(path, {"epoch": 2, "train_loss": 0.5, "derived_accuracy": 0.25})  # resumed after epoch 1
    assert path.read_text() == "epoch,train_loss,derived_accuracy\n1,0.9,\n2,0.5,0.25\n"


def test_a_tabular_benchmarks_numbers_become_columns():
    from nasplug.loggers.csv import scalar_fields

    record = {"epoch": 2, "train_loss": 1.5, "genotype": {"arch": "x"},
              "benchmark": {"CIFAR-10 test accuracy (%)": 93.5, "parameters, CIFAR-10 network (M)": 1.07}}
    assert scalar_fields(record) == {"epoch": 2, "train_loss": 1.5, "benchmark/CIFAR-10 test accuracy (%)": 93.5,
                                     "benchmark/parameters, CIFAR-10 network (M)": 1.07}
