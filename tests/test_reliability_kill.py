"""SIGKILL a real search at random moments; every resume must end as the uninterrupted run (issue 14)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reliability import QUIET_ENV, TINY

pytestmark = pytest.mark.slow

SEARCH = ["run", *TINY, "--controller", "mdenas", "--epochs", "2", "--batch-size", "64", "--no-eval-derived",
          "--quiet"]

# The real CLI, with torch.save made to stop half-way through the checkpoint of the epoch named in argv[1]:
# the file is written into its temporary name and the process then waits to be killed before the rename.
STALLED_WRITE = """
import sys, time, torch
import nasplug.runs.checkpoint
from nasplug.cli import main

stall_at, real_save = int(sys.argv[1]), torch.save

def stalling_save(state, handle, *args, **kwargs):
    real_save(state, handle, *args, **kwargs)
    if state.get("epoch") == stall_at:
        handle.flush()
        print("inside the checkpoint write", flush=True)
        time.sleep(120)

nasplug.runs.checkpoint.torch.save = stalling_save
main(sys.argv[2:], prog_name="nasplug")
"""


def _start(*args: object) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "nasplug", *map(str, args)], env=QUIET_ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(out: Path) -> None:
    """Resume ``out`` to the end (or start it afresh where the kill came before its config.json)."""
    args = ["run", "--resume", out, "--quiet"] if (out / "config.json").is_file() else [*SEARCH, "--out", out]
    process = _start(*args)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err


def _kill(process: subprocess.Popen) -> None:
    process.kill()
    process.wait()


def _finished(out: Path) -> tuple[list[dict], str]:
    """The result of ``out`` once a fresh process has resumed it to the end."""
    _finish(out)
    return _result(out)


def _result(out: Path) -> tuple[list[dict], str]:
    history = [{k: v for k, v in json.loads(line).items() if k != "seconds"}
               for line in (out / "history.jsonl").read_text().splitlines()]
    return history, (out / "genotype.json").read_text()


def _wait_for(path: Path, process: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_kills_at_random_moments_resume_to_the_uninterrupted_result(tmp_path):
    chance = random.Random(14)
    reference = tmp_path / "uninterrupted"
    expected = _finished(reference)
    assert len(expected[0]) == 2

    # Before the first checkpoint: anywhere from the start-up to the middle of epoch 1.
    early = tmp_path / "early"
    process = _start(*SEARCH, "--out", early)
    time.sleep(chance.uniform(0.5, 3.0))
    _kill(process)
    assert _finished(early) == expected

    # Inside a step: at a random moment of epoch 2.
    mid = tmp_path / "mid"
    process = _start(*SEARCH, "--out", mid)
    _wait_for(mid / "checkpoints" / "epoch-0001.pt", process)
    time.sleep(chance.uniform(0.0, 0.5))
    _kill(process)
    assert _finished(mid) == expected

    # Inside the checkpoint write of epoch 2: the temporary file is written, not yet renamed.
    torn = tmp_path / "torn"
    process = subprocess.Popen([sys.executable, "-c", STALLED_WRITE, "2", *SEARCH, "--out", torn],
                               env=QUIET_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "inside the checkpoint write", process.communicate()
    _kill(process)
    assert list((torn / "checkpoints").glob("*.tmp"))
    assert not (torn / "checkpoints" / "epoch-0002.pt").exists()
    assert _finished(torn) == expected
    assert not list(torn.rglob("*.tmp"))
