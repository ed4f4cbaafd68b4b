"""Threads and environment in config.json; hostile input files and paths give one line (issue 14, 6-7)."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from nasplug.runs.checkpoint import load_checkpoint, save_checkpoint
from nasplug.runs.environment import ThreadsError, default_threads, resume_threads, use_threads
from reliability import TINY, assert_one_line_error, cli, snapshot

pytestmark = pytest.mark.slow

TRAIN = ["train", "--dataset", "digits", "--layers", "2", "--channels", "4", "--epochs", "1"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("inputs") / "run"
    result = cli("run", *TINY, "--controller", "random", "--epochs", "2", "--out", out, "--threads", "1")
    assert result.exit_code == 0, result.output
    assert "threads 1, device cpu, torch" in result.output
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("inputs") / "train"
    result = cli(*TRAIN, "--genotype", "DARTS_V2", "--out", out)
    assert result.exit_code == 0, result.output
    return out


def test_config_records_threads_versions_and_device(finished, trained):
    for folder in (finished, trained):
        environment = json.loads((folder / "config.json").read_text())["environment"]
        assert environment["threads"] == 1 and environment["device"] == "cpu"
        assert environment["torch"] == torch.__version__ and "nasplug" in environment["versions"]
    assert "nasplug" in json.loads((finished / "config.json").read_text())["environment"]["versions"]


def test_threads_are_set_for_torch_and_checked():
    before = torch.get_num_threads()
    try:
        assert use_threads(None) == default_threads() == torch.get_num_threads() == 1
        assert use_threads(2) == 2 == torch.get_num_threads()
        with pytest.raises(ThreadsError, match="positive integer"):
            use_threads(0)
    finally:
        torch.set_num_threads(before)


def test_a_resume_keeps_the_runs_threads_and_warns_when_told_otherwise():
    assert resume_threads({"threads": 1}, None) == (1, None)
    threads, warning = resume_threads({"threads": 1}, 2)
    assert threads == 2 and "started with 1 thread(s), this resume uses 2" in warning
    assert resume_threads({}, None) == (None, None)


def test_resume_with_other_threads_warns_but_continues(finished, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(finished, copy)  # finished: the resume only restores, derives and writes the genotype
    result = cli("run", "--resume", copy, "--threads", "2")
    assert result.exit_code == 0, result.output
    assert "warning: the run was started with 1 thread(s), this resume uses 2" in result.output


# ------------------------------------------------------------------ genotype files

def _write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize("content, fragment", [
    ('{"space": ["darts-cell"], "normal": []}', "'space' must be a space's name, got a list"),
    ('{"space": {"a": 1}}', "'space' must be a space's name, got a dict"),
    ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
    ('{"space": "darts-cell", "normal": [["sep_conv_3x3", ' + "7" * 5000 + "]]}", "not a genotype file"),
    ("\udcff".encode("utf-8", "surrogateescape").decode("latin-1"), "not UTF-8"),
])
@pytest.mark.parametrize("command", ["show", "info", "train"])
def test_hostile_genotype_files_are_one_line(tmp_path, content, fragment, command):
    path = tmp_path / "genotype.json"
    path.write_bytes(content.encode("latin-1") if fragment == "not UTF-8" else content.encode())
    args = {"show": ["show", path], "info": ["info", "--genotype", path],
            "train": [*TRAIN, "--genotype", path, "--out", tmp_path / "out"]}[command]
    assert_one_line_error(cli(*args), str(path), fragment)
    assert not (tmp_path / "out").exists()


def test_info_on_a_network_too_wide_to_allocate_is_one_line():
    wide = ["--genotype", "DARTS_V2", "--dataset", "digits", "--channels", "1000000"]
    assert_one_line_error(cli("info", *wide),
                          "channels=1000000", "does not fit in memory")


# ------------------------------------------------------------------ run folders on resume

@pytest.mark.parametrize("content, fragment", [
    (bytes(range(256)) * 4, "not UTF-8"),
    (b"[" * 200_000 + b"]" * 200_000, "nested too deeply"),
    (b'{"epochs": ' + b"9" * 5000 + b"}", "config.json: not a nasplug"),
])
@pytest.mark.parametrize("kind", ["run", "train"])
def test_hostile_config_on_resume_is_one_line(finished, trained, tmp_path, content, fragment, kind):
    copy = tmp_path / kind
    shutil.copytree(finished if kind == "run" else trained, copy)
    (copy / "config.json").write_bytes(content)
    before = snapshot(copy)
    assert_one_line_error(cli(kind, "--resume", copy), "config.json", fragment)
    assert snapshot(copy) == before


@pytest.mark.parametrize("change, fragment", [
    (lambda state: state.pop("rng"), "'rng'"),
    (lambda state: state.pop("history"), "'history'"),
    (lambda state: state.update(epoch="abc"), "epoch"),
    (lambda state: state.update(rng={"torch": "not a tensor"}), "torch.ByteTensor"),
])
def test_damaged_search_checkpoints_are_one_line(finished, tmp_path, change, fragment):
    copy = tmp_path / "run"
    shutil.copytree(finished, copy)
    path = copy / "checkpoints" / "epoch-0002.pt"
    state = load_checkpoint(path)
    change(state)
    save_checkpoint(path, state)
    before = snapshot(copy)
    line = assert_one_line_error(cli("run", "--resume", copy), "epoch-0002.pt", fragment)
    assert "does not match this run" in line or "damaged" in line
    assert snapshot(copy) == before


@pytest.mark.parametrize("change", [lambda s: s.pop("rng"), lambda s: s.update(epoch="abc"),
                                    lambda s: s.pop("metrics")])
def test_damaged_training_checkpoints_are_one_line(trained, tmp_path, change):
    copy = tmp_path / "train"
    shutil.copytree(trained, copy)
    path = next((copy / "checkpoints").glob("*.pt"))
    state = load_checkpoint(path)
    change(state)
    save_checkpoint(path, state)
    before = snapshot(copy)
    assert_one_line_error(cli("train", "--resume", copy), "checkpoint")
    assert snapshot(copy) == before


@pytest.mark.parametrize("device", ["mps", "meta", "xpu", "tpu"])
def test_unsupported_devices_are_one_line(tmp_path, device):
    run = ["run", *TINY, "--controller", "random", "--device", device, "--out", tmp_path / "r"]
    assert_one_line_error(cli(*run),
                          repr(device))
    assert_one_line_error(cli(*TRAIN, "--genotype", "DARTS_V2", "--device", device, "--out", tmp_path / "t"),
                          repr(device))
    assert not (tmp_path / "r").exists() and not (tmp_path / "t").exists()


def test_ranking_does_not_suggest_a_resume_it_lacks(finished):
    line = assert_one_line_error(cli("ranking", "--space", "darts-cell", "--out", finished))
    assert "--resume" not in line


def test_help_shows_examples_and_the_installed_plugins_options():
    text = cli("run", "--help").output
    assert "Examples:" in text and "nasplug run --resume" in text and "--threads" in text
    assert "controller mdenas" in text and "-o alpha=0.01" in text and "space darts-cell" in text
    assert "Examples:" in cli("train", "--help").output
