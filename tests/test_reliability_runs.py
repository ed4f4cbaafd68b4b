"""Run folders under concurrent use, failed starts and unloadable controller state (issue 14, items 1-3)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nasplug.cli import default_run_dir
from nasplug.runs.lock import LOCK_FILE, RunLockedError, run_lock
from reliability import TINY, assert_one_line_error, cli, nasplug, snapshot

pytestmark = pytest.mark.slow

HOLD = ("import sys, time; from nasplug.runs.lock import run_lock\n"
        "with run_lock(sys.argv[1], 'test holder'):\n    print('held', flush=True); time.sleep(60)\n")


@pytest.fixture
def held_folder(tmp_path):
    """A folder whose lock another live process holds; yields (folder, that process)."""
    folder = tmp_path / "held"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    yield folder, holder
    holder.kill()
    holder.wait()


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One tiny finished search (random controller, 2 epochs)."""
    out = tmp_path_factory.mktemp("finished") / "run"
    result = cli("run", *TINY, "--controller", "random", "--epochs", "2", "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("command", [
    ["run", *TINY, "--controller", "random", "--epochs", "1"],
    ["ranking", "--space", "darts-cell", "--layers", "2", "--channels", "4", "--architectures", "2",
     "--epochs", "2"],
    ["train", "--genotype", "DARTS_V2", "--dataset", "digits", "--layers", "2", "--channels", "4",
     "--epochs", "1"],
])
def test_a_second_process_exits_at_once_naming_the_holder(held_folder, command):
    folder, holder = held_folder
    before = snapshot(folder)
    started = time.monotonic()
    line = assert_one_line_error(cli(*command, "--out", folder), "is in use by test holder",
                                 f"pid {holder.pid}")
    assert "started" in line
    assert time.monotonic() - started < 5  # at once: no data was loaded
    assert snapshot(folder) == before


def test_a_second_resume_of_one_run_is_refused(finished, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(finished, copy)
    with run_lock(copy, "first resume"):
        before = snapshot(copy)
        assert_one_line_error(cli("run", "--resume", copy), "in use by first resume", f"pid {os.getpid()}")
        assert snapshot(copy) == before


def test_two_runs_on_one_folder_started_together_leave_the_first_runs_files(tmp_path):
    out = tmp_path / "run"
    args = ["run", *TINY, "--controller", "random", "--epochs", "2", "--out", out, "--quiet"]
    first, second = nasplug(*args), nasplug(*args)
    results = sorted([(p.wait(), p.communicate()) for p in (first, second)], key=lambda r: r[0])
    (ok, (_, _)), (refused, (_, refused_err)) = results
    assert (ok, refused) == (0, 1), results
    assert "is in use by nasplug run" in refused_err and "Traceback" not in refused_err
    assert set(snapshot(out)) == {"config.json", "preprocessing.json", "history.jsonl", "genotype.json",
                                  "summary.json", "checkpoints/epoch-0001.pt", "checkpoints/epoch-0002.pt"}
    assert len((out / "history.jsonl").read_text().splitlines()) == 2


def test_the_lock_dies_with_its_holder(tmp_path):
    folder = tmp_path / "held"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(RunLockedError):
        with run_lock(folder, "too early"):
            pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with run_lock(folder, "after the kill"):
        assert json.loads((folder / LOCK_FILE).read_text())["command"] == "after the kill"


def test_default_folders_never_collide_and_stay_under_runs():
    names = {default_run_dir("darts-cell", "random") for _ in range(50)}
    assert len(names) == 50
    assert all(str(os.getpid()) in name.name for name in names)
    hostile = default_run_dir("../../x", "a/b")
    assert hostile.parent == Path("runs") and "/" not in hostile.name and ".." not in hostile.name


def test_a_run_stopped_before_its_first_checkpoint_resumes_from_its_config(finished, tmp_path):
    dead = tmp_path / "dead"
    dead.mkdir()
    shutil.copy(finished / "config.json", dead / "config.json")
    (dead / ".config.json.abc.tmp").write_bytes(b"half written")
    assert_one_line_error(cli("run", *TINY, "--controller", "random", "--out", dead), f"--resume {dead}")
    result = cli("run", "--resume", dead, "--quiet")
    assert result.exit_code == 0, result.output
    assert (dead / "genotype.json").read_text() == (finished / "genotype.json").read_text()
    assert _history(dead) == _history(finished)
    assert not list(dead.rglob("*.tmp"))


def test_a_run_from_before_a_new_setting_resumes(finished, tmp_path):
    """A setting added since the run started (here nesterov and input_size) is absent from its config.json
    and checkpoint: the run resumes at that setting's default, exactly."""
    from nasplug.runs.checkpoint import load_checkpoint, save_checkpoint

    older = tmp_path / "older"
    shutil.copytree(finished, older)
    (older / "checkpoints" / "epoch-0002.pt").unlink()
    (older / "genotype.json").unlink()
    config = json.loads((older / "config.json").read_text())
    for key in ("nesterov", "input_size"):
        del config[key]
    (older / "config.json").write_text(json.dumps(config))
    state = load_checkpoint(older / "checkpoints" / "epoch-0001.pt")
    state["config"] = {k: v for k, v in state["config"].items() if k not in ("nesterov", "input_size")}
    save_checkpoint(older / "checkpoints" / "epoch-0001.pt", state)
    result = cli("run", "--resume", older, "--quiet")
    assert result.exit_code == 0, result.output
    assert _history(older) == _history(finished)


def test_stray_temporary_files_go_on_resume(finished, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(finished, copy)
    stray = copy / "checkpoints" / ".epoch-0003.pt.x1y2.tmp"
    stray.write_bytes(b"torn")
    result = cli("run", "--resume", copy, "--quiet")
    assert result.exit_code == 0, result.output
    assert not stray.exists()


@pytest.mark.parametrize("args, fragment", [
    (["--batch-size", "100000"], "batch size 100000 is larger"),
    (["--device", "meta"], "device 'meta' is not supported"),
    (["--device", "mps"], "device 'mps' is not supported"),
])
def test_a_refused_start_leaves_no_folder(tmp_path, args, fragment):
    out = tmp_path / "new"
    assert_one_line_error(cli("run", *TINY, "--controller", "random", "--epochs", "1", *args, "--out", out),
                          fragment)
    assert not out.exists()


def test_out_under_a_file_or_in_proc_is_one_line(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("keep")
    assert_one_line_error(cli("run", *TINY, "--controller", "random", "--out", afile),
                          "is a file, not a folder")
    assert_one_line_error(cli("run", *TINY, "--controller", "random", "--epochs", "1", "--out", afile / "x"),
                          "cannot create the run folder")
    in_proc = ["run", *TINY, "--controller", "random", "--epochs", "1", "--out", "/proc/nasplug"]
    assert_one_line_error(cli(*in_proc),
                          "/proc/nasplug: cannot create the run folder")
    assert afile.read_text() == "keep"


def test_resume_of_a_file_that_is_no_checkpoint_names_it(tmp_path):
    genotype = tmp_path / "good.json"
    genotype.write_text("{}")
    assert_one_line_error(cli("run", "--resume", genotype), f"{genotype}: --resume takes a run directory")


def test_results_respect_the_umask(finished):
    expected = 0o666 & ~_umask()
    for name in ("config.json", "genotype.json", "history.jsonl", "checkpoints/epoch-0002.pt"):
        assert (finished / name).stat().st_mode & 0o777 == expected, name


UNLOADABLE = '''
    import collections
    import numpy
    import nasplug
    from nasplug import Architecture
    from nasplug.controllers.random import RandomController


    class Hoarder(RandomController):
        description = "keeps a deque in its state (test plugin)"

        def state_dict(self):
            return {**super().state_dict(), "recent": collections.deque([1, 2]), "best": numpy.float64(0.5)}
'''


def test_a_controller_state_that_could_never_be_loaded_is_refused_when_saved(fake_dist, tmp_path):
    fake_dist("nasplug-hoarder", {"nasplug.controllers": {"hoarder": "hoarder:Hoarder"}},
              {"hoarder.py": UNLOADABLE})
    out = tmp_path / "run"
    line = assert_one_line_error(cli("run", *TINY, "--controller", "hoarder", "--epochs", "1", "--out", out),
                                 "controller 'hoarder' (nasplug-hoarder 1.2.3)", "['recent']",
                                 "collections.deque")
    assert "weights_only=False" not in line
    assert not list(out.glob("checkpoints/*.pt"))


def _history(run: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"}
            for line in (run / "history.jsonl").read_text().splitlines()]


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current
