"""Checkpoints verified before use, full disks, kills in a run's first seconds and SIGINT (issue 28)."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from nasplug.runs.checkpoint import load_checkpoint, save_checkpoint
from reliability import QUIET_ENV, SEARCH2, TRAIN2, assert_one_line_error, cli, snapshot

pytestmark = pytest.mark.slow

SEARCH, TRAIN = SEARCH2, TRAIN2


def _history(folder: Path, name: str = "history.jsonl") -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"}
            for line in (folder / name).read_text().splitlines()]


def _copy(source: Path, tmp_path: Path) -> Path:
    copy = tmp_path / source.name
    shutil.copytree(source, copy)
    return copy


# ---------------------------------------------------------------------------- integrity


def test_a_checkpoint_with_flipped_bytes_is_refused(finished_search, tmp_path):
    run = _copy(finished_search, tmp_path)
    path = run / "checkpoints" / "epoch-0002.pt"
    blob = bytearray(path.read_bytes())
    middle = len(blob) // 2  # inside the supernet's weights
    blob[middle:middle + 8] = bytes(255 - b for b in blob[middle:middle + 8])
    path.write_bytes(bytes(blob))
    before = snapshot(run)
    assert_one_line_error(cli("run", "--resume", run), "epoch-0002.pt", "SHA-256")
    assert snapshot(run) == before


def test_a_truncated_checkpoint_is_refused_before_unpickling(finished_search, tmp_path):
    run = _copy(finished_search, tmp_path)
    path = run / "checkpoints" / "epoch-0002.pt"
    path.write_bytes(path.read_bytes()[:-1000])
    assert_one_line_error(cli("run", "--resume", run), "epoch-0002.pt", "truncated")


def test_a_headerless_checkpoint_from_before_the_checksum_still_resumes(finished_search, tmp_path):
    run = _copy(finished_search, tmp_path)
    (run / "checkpoints" / "epoch-0002.pt").unlink()
    first = run / "checkpoints" / "epoch-0001.pt"
    torch.save(load_checkpoint(first), first)  # a bare torch.save zip: how checkpoints were written before
    assert first.read_bytes()[:4] == b"PK\x03\x04"
    result = cli("run", "--resume", run, "--quiet")
    assert result.exit_code == 0, result.output
    assert _history(run) == _history(finished_search)
    assert (run / "genotype.json").read_text() == (finished_search / "genotype.json").read_text()


def test_a_trained_network_comes_from_the_verified_checkpoint_not_the_unchecked_safetensors(finished_training,
                                                                                           tmp_path):
    from safetensors.torch import load_file, save_file

    from nasplug.plugin import load_plugins
    from nasplug.train.trained import trained_network

    run = _copy(finished_training, tmp_path)
    weights = load_file(run / "model.safetensors")
    save_file({name: torch.zeros_like(tensor) for name, tensor in weights.items()}, run / "model.safetensors")
    expected = load_checkpoint(sorted((run / "checkpoints").glob("*.pt"))[-1])["model"]
    loaded = trained_network(run, load_plugins()).module.state_dict()
    assert all(torch.equal(loaded[name], tensor) for name, tensor in expected.items())
    for checkpoint in (run / "checkpoints").glob("*.pt"):  # no checkpoint left: the safetensors file it is
        checkpoint.unlink()
    assert all(not tensor.any() for tensor in trained_network(run, load_plugins()).module.state_dict().values()
               if tensor.is_floating_point())


def _tensor_in_history(state):
    state["history"][0]["train_loss"] = torch.tensor(1.0)


def _nan_in_history(state):
    state["history"][1]["train_loss"] = math.nan


@pytest.mark.parametrize("change, fragment", [
    (lambda state: state.update(epoch=999), "epoch 999"),
    (lambda state: state.update(epoch=True), "epoch True"),
    (lambda state: state.update(history=[]), "'history' holds 0 records"),
    (lambda state: state["history"].pop(), "'history' holds 1 records"),
    (lambda state: state["history"].reverse(), "history[0] is not the record of epoch 1"),
    (_nan_in_history, "not a finite number"),
    (_tensor_in_history, "Tensor is not a plain value"),
    (lambda state: state.update(controller=5), "controller state is a int"),
    # what history.jsonl's reader (plot, check_history_record) would refuse is refused here too
    (lambda state: state["history"][0].pop("distribution"), "history[0]: the record has no 'distribution'"),
    (lambda state: state["history"][1].update(genotype="DARTS"), "history[1]: 'genotype' is 'DARTS'"),
])
def test_a_checkpoint_inconsistent_with_its_run_is_refused(finished_search, tmp_path, change, fragment):
    run = _copy(finished_search, tmp_path)
    path = run / "checkpoints" / "epoch-0002.pt"
    state = load_checkpoint(path)
    change(state)
    save_checkpoint(path, state)
    before = snapshot(run)
    assert_one_line_error(cli("run", "--resume", run), "epoch-0002.pt", fragment)
    assert snapshot(run) == before


@pytest.mark.parametrize("change, fragment", [
    (lambda state: state.update(epoch=999), "epoch 999"),
    (lambda state: state.update(metrics=[]), "'metrics' holds 0 records"),
    (lambda state: state["metrics"][0].update(test_top1=math.inf), "not a finite number"),
])
def test_a_training_checkpoint_inconsistent_with_its_run_is_refused(finished_training, tmp_path, change, fragment):
    run = _copy(finished_training, tmp_path)
    path = sorted((run / "checkpoints").glob("*.pt"))[-1]
    state = load_checkpoint(path)
    change(state)
    save_checkpoint(path, state)
    before = snapshot(run)
    assert_one_line_error(cli("train", "--resume", run), "checkpoint", fragment)
    assert snapshot(run) == before


def test_init_from_a_training_folder_names_the_checkpoint_not_the_controller(finished_training, tmp_path):
    line = assert_one_line_error(cli(*SEARCH, "--init-from", finished_training, "--out", tmp_path / "out"),
                                 str(finished_training / "checkpoints"), "not a search checkpoint",
                                 "nasplug-train-1")
    assert "failed in transfer_state" not in line
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------- full disks


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB tmpfs: a tiny search's first checkpoint (1.4 MB) fits, its second does not."""
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_full_disk_says_which_checkpoint_is_good_and_the_run_continues_from_it(finished_search, small_disk, tmp_path):
    out = small_disk / "run"
    line = assert_one_line_error(cli(*SEARCH, "--out", out), "No space left on device",
                                 "the last good checkpoint is", "epoch-0001.pt", f"nasplug run --resume {out}")
    assert "Traceback" not in line
    moved = tmp_path / "run"  # "free space": continue the folder on a disk with room
    shutil.copytree(out, moved)
    result = cli("run", "--resume", moved, "--quiet")
    assert result.exit_code == 0, result.output
    assert _history(moved) == _history(finished_search)
    assert (moved / "genotype.json").read_text() == (finished_search / "genotype.json").read_text()


def test_an_already_full_disk_is_one_line_at_the_lock(small_disk):
    fd = os.open(small_disk / "filler", os.O_WRONLY | os.O_CREAT)
    with pytest.raises(OSError, match="No space left"):  # fill the disk to the last byte
        while True:
            os.write(fd, b"\0" * 4096)
    os.close(fd)
    out = small_disk / "run"
    line = assert_one_line_error(cli(*SEARCH, "--out", out), "lock", "No space left on device")
    assert "Traceback" not in line and not out.exists()


LIMITED = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))
from nasplug.cli import main
main(sys.argv[1:], prog_name="nasplug")
"""


@pytest.mark.parametrize("command", [SEARCH, TRAIN])
def test_a_file_too_large_to_write_is_one_line_naming_what_to_do(tmp_path, command):
    """Every user can run this one: a 1 MB file-size limit makes the first checkpoint's write fail."""
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-c", LIMITED, *command, "--out", str(out)], env=QUIET_ENV,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "cannot write" in last and "epoch-0001.pt" in last and "no checkpoint had been written yet" in last
    assert f"nasplug {command[0]} --resume {out}" in last
    assert not list((out / "checkpoints").iterdir())  # the torn temporary file is gone


@pytest.mark.parametrize("command", [SEARCH, TRAIN])
def test_a_file_limit_hit_at_the_lock_is_one_line(tmp_path, command):
    """The lock's own record is the first write: a zero-byte file-size limit fails it."""
    out = tmp_path / "out"
    limited = LIMITED.replace("1_000_000", "0")
    done = subprocess.run([sys.executable, "-c", limited, *command, "--out", str(out)], env=QUIET_ENV,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "cannot write the run folder's lock" in last and "too large" in last, last
    assert not out.exists()


# ---------------------------------------------------------------------------- kills in the first seconds

STALL = """
import os, sys, time
from nasplug.cli import main

name, when, real_replace = sys.argv[1], sys.argv[2], os.replace

def stalling_replace(source, target, *args, **kwargs):
    if os.path.basename(target) == name and when == "before":
        print("stalled", flush=True); time.sleep(120)
    real_replace(source, target, *args, **kwargs)
    if os.path.basename(target) == name and when == "after":
        print("stalled", flush=True); time.sleep(120)

os.replace = stalling_replace
main(sys.argv[3:], prog_name="nasplug")
"""


def _killed_at(command: list[str], out: Path, name: str, when: str) -> None:
    """Run ``command`` into ``out`` and SIGKILL it just before or after the rename that writes ``name``."""
    process = subprocess.Popen([sys.executable, "-c", STALL, name, when, *command, "--out", str(out)],
                               env=QUIET_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "stalled", process.communicate()
    process.kill()
    process.wait()


def _continue(command: list[str], out: Path) -> None:
    """What the user does after a kill: --resume, or the same command where no config.json was written."""
    args = [command[0], "--resume", str(out), "--quiet"] if (out / "config.json").is_file() else [
        *command, "--out", str(out)]
    done = subprocess.run([sys.executable, "-m", "nasplug", *args], env=QUIET_ENV, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name, when", [
    ("config.json", "before"), ("config.json", "after"), ("genotype.json", "before"),
    ("genotype.json", "after"), ("preprocessing.json", "before"), ("epoch-0001.pt", "after"),
])
def test_a_training_killed_in_its_first_seconds_resumes_to_the_uninterrupted_result(finished_training, tmp_path, name,
                                                                                     when):
    out = tmp_path / "train"
    _killed_at(TRAIN, out, name, when)
    _continue(TRAIN, out)
    assert _history(out, "metrics.jsonl") == _history(finished_training, "metrics.jsonl")
    assert json.loads((out / "genotype.json").read_text()) == json.loads((finished_training / "genotype.json").read_text())
    results = [json.loads((folder / "results.json").read_text()) for folder in (out, finished_training)]
    assert results[0]["top1"] == results[1]["top1"]
    assert (out / "preprocessing.json").read_text() == (finished_training / "preprocessing.json").read_text()


@pytest.mark.parametrize("name", ["config.json", "preprocessing.json"])
def test_a_search_killed_before_its_first_files_exist_continues(finished_search, tmp_path, name):
    out = tmp_path / "run"
    _killed_at(SEARCH, out, name, "before")
    assert list(out.glob(f".{name}.*.tmp"))  # what the kill left: a torn file
    _continue(SEARCH, out)
    assert _history(out) == _history(finished_search)
    assert (out / "preprocessing.json").read_text() == (finished_search / "preprocessing.json").read_text()
    assert not list(out.glob("*.tmp"))


@pytest.mark.parametrize("command", [SEARCH, TRAIN])
def test_ctrl_c_in_the_first_moments_is_one_line(tmp_path, command):
    process = subprocess.Popen([sys.executable, "-m", "nasplug", *command, "--out", str(tmp_path / "out")],
                               env=QUIET_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "interrupted", err
