"""No file outside a run folder is written, and none is replaced unasked (issue 28: data lost or clobbered)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nasplug.data.folder import read_image
from nasplug.runs.lock import LOCK_FILE
from reliability import SEARCH2, assert_one_line_error, cli, snapshot

pytestmark = pytest.mark.slow

SEARCH = SEARCH2
EXPORT = ["export", "DARTS_V2", "--dataset", "digits", "--layers", "3", "--channels", "4", "--untrained"]


# ---------------------------------------------------------------------------- export


@pytest.mark.parametrize("victim", ["genotype.json", "checkpoints/epoch-0002.pt"])
def test_export_never_replaces_an_existing_file_without_force(finished_search, tmp_path, victim):
    run = tmp_path / "run"
    shutil.copytree(finished_search, run)
    before = snapshot(run)
    assert_one_line_error(cli(*EXPORT, "--format", "safetensors", "--out", run / victim), "exists", "--force")
    assert snapshot(run) == before


def test_export_with_force_replaces_the_file(tmp_path):
    target = tmp_path / "net.safetensors"
    target.write_text("old")
    result = cli(*EXPORT, "--format", "safetensors", "--out", target, "--force")
    assert result.exit_code == 0, result.output
    assert target.read_bytes() != b"old" and target.stat().st_size > 1000


def test_a_pt2_export_never_replaces_the_json_beside_it_without_force(tmp_path):
    sidecar = tmp_path / "net.json"
    sidecar.write_text("the user's notes\n")
    assert_one_line_error(cli(*EXPORT, "--format", "pt2", "--out", tmp_path / "net.pt2"), "net.json", "--force")
    assert sidecar.read_text() == "the user's notes\n" and not (tmp_path / "net.pt2").exists()
    result = cli(*EXPORT, "--format", "pt2", "--out", tmp_path / "net.pt2", "--force")
    assert result.exit_code == 0, result.output
    assert '"trained": "false"' in sidecar.read_text()


def test_a_pt2_export_to_a_json_name_is_refused(tmp_path):
    assert_one_line_error(cli(*EXPORT, "--format", "pt2", "--out", tmp_path / "net.json", "--force"),
                          "net.json", "metadata")
    assert not (tmp_path / "net.json").exists()


LATENCY = ["latency", "--genotype", "DARTS_V2", "--layers", "1", "--channels", "4", "--input-size", "8",
           "--warmup", "0", "--runs", "2"]


@pytest.mark.parametrize("command", [[*LATENCY, "--json"], ["latency-table", "--runs", "1", "--out"]])
def test_latency_files_are_never_replaced_without_force(tmp_path, command):
    target = tmp_path / "mine.json"
    target.write_text("the user's file\n")
    assert_one_line_error(cli(*command, target), "exists", "--force")
    assert target.read_text() == "the user's file\n"


def test_latency_json_with_force_replaces_the_file(tmp_path):
    target = tmp_path / "mine.json"
    target.write_text("old")
    result = cli(*LATENCY, "--json", target, "--force")
    assert result.exit_code == 0, result.output
    assert '"genotype": "DARTS_V2"' in target.read_text()


@pytest.mark.parametrize("where, fragment", [
    ("under-a-file", "is a file, not a folder"),
    ("proc", "cannot write /proc/"),
    ("long-name", "File name too long"),
])
def test_export_to_an_unwritable_place_is_one_line(tmp_path, where, fragment):
    (tmp_path / "file.txt").write_text("mine")
    out = {"under-a-file": tmp_path / "file.txt" / "net.safetensors", "proc": Path("/proc/net.safetensors"),
           "long-name": tmp_path / ("n" * 300 + ".safetensors")}[where]
    assert_one_line_error(cli(*EXPORT, "--format", "safetensors", "--out", out), fragment)
    assert (tmp_path / "file.txt").read_text() == "mine"


# ---------------------------------------------------------------------------- plot


def test_plot_never_replaces_a_picture_in_a_named_folder_without_force(finished_search, tmp_path):
    out = tmp_path / "pictures"
    out.mkdir()
    (out / "curves.png").write_bytes(b"the user's picture")
    assert_one_line_error(cli("plot", finished_search, "--out", out, "--format", "png"), "curves.png", "--force")
    assert sorted(path.name for path in out.iterdir()) == ["curves.png"]  # nothing drawn before the refusal
    (out / "comparison.png").write_bytes(b"mine")
    assert_one_line_error(cli("plot", finished_search, finished_search, "--out", out, "--format", "png"),
                          "comparison.png", "exists", "--force")
    assert (out / "comparison.png").read_bytes() == b"mine"
    result = cli("plot", finished_search, "--out", out, "--format", "png", "--force")
    assert result.exit_code == 0, result.output
    assert (out / "curves.png").read_bytes().startswith(b"\x89PNG")


# ---------------------------------------------------------------------------- the lock


def test_a_lock_file_that_is_a_symlink_is_never_followed(tmp_path):
    precious = tmp_path / "precious.txt"
    precious.write_text("the user's file\n")
    out = tmp_path / "run"
    out.mkdir()
    (out / LOCK_FILE).symlink_to(precious)
    assert_one_line_error(cli(*SEARCH, "--out", out), "lock", "symbolic link")
    assert precious.read_text() == "the user's file\n"


def test_a_lock_file_that_is_a_fifo_is_refused(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    os.mkfifo(out / LOCK_FILE)
    assert_one_line_error(cli(*SEARCH, "--out", out), "lock", "not a regular file")


# ---------------------------------------------------------------------------- what a run leaves behind


def test_a_resume_deletes_only_its_own_temporary_files(finished_search, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished_search, run)
    (run / "notes").mkdir()
    users = [run / "notes" / "draft.tmp", run / "draft.tmp", run / "notes" / ".history.jsonl.abcd1234.tmp"]
    for path in users:
        path.write_text("mine")
    stray = [run / ".history.jsonl.k2j4h5g6.tmp", run / "checkpoints" / ".epoch-0003.pt.x_y1z2w3.tmp"]
    for path in stray:
        path.write_bytes(b"torn")
    result = cli("run", "--resume", run, "--quiet")
    assert result.exit_code == 0, result.output
    assert all(path.read_text() == "mine" for path in users)
    assert not any(path.exists() for path in stray)


@pytest.mark.parametrize("command", ["run", "train"])
def test_a_refused_resume_of_a_users_folder_leaves_no_lock_behind(tmp_path, command):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    assert_one_line_error(cli(command, "--resume", folder), "no config.json")
    assert sorted(os.listdir(folder)) == ["notes.txt"]


def test_a_refused_start_removes_every_folder_it_created(tmp_path):
    out = tmp_path / "a" / "b" / "run"
    assert_one_line_error(cli(*SEARCH, "--batch-size", "100000", "--out", out), "batch size")
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------- images


def test_sixteen_bit_grey_pngs_are_scaled_not_clipped(tmp_path):
    values = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000)
    path = tmp_path / "grey16.png"
    Image.fromarray(values).save(path)
    assert Image.open(path).mode.startswith("I")
    read = np.asarray(read_image(path, "L"))
    assert read.max() < 255 and len(np.unique(read)) == 64  # 1000, 2000, ... stay distinct
    np.testing.assert_array_equal(read, np.rint(values.astype(float) * 255 / 65535).astype(np.uint8))
    np.testing.assert_array_equal(np.asarray(read_image(path, "RGB"))[..., 0], read)


def test_thirty_two_bit_grey_images_are_scaled_by_their_own_range(tmp_path):
    """Mode I holds 32 bits: a 16-bit scale would clip 1,500,000 to white; its own range keeps every level."""
    values = np.arange(16, dtype=np.int32).reshape(4, 4) * 100_000
    path = tmp_path / "grey32.tiff"
    Image.fromarray(values, mode="I").save(path)
    assert Image.open(path).mode == "I"
    read = np.asarray(read_image(path, "L"))
    np.testing.assert_array_equal(read, np.rint(values * (255 / 1_500_000)).astype(np.uint8))
    assert read.max() == 255 and len(np.unique(read)) == 16
