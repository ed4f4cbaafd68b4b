"""The progress display: a bar that fits 80 columns, plain lines in logs, a resume hint on Ctrl-C."""

import io
import json
import re
import shlex
import sys
import types
from time import sleep as real_sleep

import pytest
from click.testing import CliRunner

from nasplug.runs import progress as progress_module
from nasplug.cli import main
from nasplug.runs.progress import Progress, format_duration, in_notebook

METRICS = {"train_loss": 1.23456, "train_accuracy": 0.4567, "search_loss": 1.5, "search_accuracy": 0.41,
           "entropy": 0.9345}
TINY = ["--space", "darts-cell", "--controller", "random", "--dataset", "digits", "--layers", "3",
        "--channels", "4", "--batch-size", "128", "--no-eval-derived"]


def rendered_lines(stream):
    """Every state the terminal showed: tqdm redraws a line after a carriage return."""
    return [line for line in re.split(r"[\r\n]", stream.getvalue()) if line.strip()]


def test_the_bar_fits_80_columns_with_counts_rate_times_and_metrics(monkeypatch):
    clock = iter(range(1000))
    monkeypatch.setattr(progress_module.time, "perf_counter", lambda: float(next(clock)))
    stream = io.StringIO()
    bar = Progress(stream=stream, live=True, ncols=80)
    bar.start_epoch("epoch 13/30", 144, remaining_epochs=17)
    bar._bar.mininterval = 0  # draw every step: the test reads every rendered state
    for _ in range(20):
        real_sleep(0.03)  # a real rate of ~30 steps/s, as on a small CPU search
        bar.step(METRICS)
    bar._bar.refresh()
    lines = rendered_lines(stream)
    assert lines and max(len(line) for line in lines) <= 80
    last = lines[-1]
    assert "20/144" in last and "it/s" in last
    # one fake second per clock read: 20 steps took 20 s, so the 124 + 17 · 144 steps left take 2572 s
    assert format_duration(2572) == "42:52"
    assert re.search(r"run (\S+)<(\S+)", last).groups() == ("00:20", "42:52")
    assert "loss 1.23" in last and "acc 0.46" in last and "H/max 0.93" in last


def test_a_terminal_that_reports_no_size_still_gets_an_80_column_bar():
    stream = io.StringIO()  # no fileno: the size is unknown, as on a pty nobody sized
    bar = Progress(stream=stream, live=True)
    bar.start_epoch("epoch 1/1", 3)
    bar._bar.mininterval = 0
    for _ in range(3):
        bar.step(METRICS)
    lines = rendered_lines(stream)
    assert any("3/3" in line for line in lines) and max(len(line) for line in lines) <= 80


def test_without_a_tty_only_the_epoch_lines_are_written():
    stream = io.StringIO()
    bar = Progress(stream=stream)  # StringIO is no TTY
    assert not bar.live
    for epoch in (1, 2):
        bar.start_epoch(f"epoch {epoch}/2", 10, 2 - epoch)
        for _ in range(10):
            bar.step(METRICS)
        bar.end_epoch(f"epoch {epoch}/2 done")
    assert stream.getvalue() == "epoch 1/2 done\nepoch 2/2 done\n"


def test_a_notebook_kernel_gets_a_live_bar(monkeypatch):
    assert not in_notebook()
    shell = types.SimpleNamespace(kernel=object())
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    assert in_notebook() and Progress(stream=io.StringIO()).live


def test_durations_read_as_tqdm_writes_them():
    assert format_duration(65) == "01:05" and format_duration(3725) == "1:02:05"


class InterruptAtEpoch(Progress):
    """Presses Ctrl-C at the start of epoch ``at`` (1-based), as a user would."""

    at = 2

    def start_epoch(self, label, steps, remaining_epochs=0):
        if label.startswith(f"epoch {self.at}/"):
            raise KeyboardInterrupt
        super().start_epoch(label, steps, remaining_epochs)


@pytest.mark.slow
def test_ctrl_c_prints_the_exact_resume_command_which_then_finishes_the_run(monkeypatch, tmp_path):
    monkeypatch.setattr("nasplug.api.Progress", InterruptAtEpoch)
    out = tmp_path / "a run"
    result = CliRunner().invoke(main, ["run", *TINY, "--epochs", "2", "--out", str(out)])
    assert result.exit_code == 130
    last = result.output.strip().splitlines()[-1]
    assert last == f"interrupted; continue with: nasplug run --resume {shlex.quote(str(out))}"
    monkeypatch.setattr("nasplug.api.Progress", Progress)
    resumed = CliRunner().invoke(main, shlex.split(last.split("continue with: nasplug ")[1]))
    assert resumed.exit_code == 0, resumed.output
    assert [json.loads(line)["epoch"] for line in (out / "history.jsonl").read_text().splitlines()] == [1, 2]


@pytest.mark.slow
def test_ctrl_c_before_any_checkpoint_says_there_is_nothing_to_resume(monkeypatch, tmp_path):
    monkeypatch.setattr(InterruptAtEpoch, "at", 1)
    monkeypatch.setattr("nasplug.api.Progress", InterruptAtEpoch)
    result = CliRunner().invoke(main, ["run", *TINY, "--epochs", "2", "--out", str(tmp_path / "run")])
    assert result.exit_code == 130
    assert "nothing to resume" in result.output.strip().splitlines()[-1]
