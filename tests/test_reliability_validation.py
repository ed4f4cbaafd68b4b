"""One validating reader for every file nasplug reads, numbers bounded where flags are parsed (issue 28).

Each hand-edited or damaged file, each out-of-range flag, gives one line naming the file or flag and the
problem, and changes nothing on disk.
"""

from __future__ import annotations

import json
import shutil

import pytest

from nasplug.search.config import SearchConfig
from nasplug.train.config import TrainConfig
from reliability import ROUND2, SEARCH2, TRAIN2, assert_one_line_error, cli, snapshot

pytestmark = pytest.mark.slow

TINY = ROUND2


def test_every_numeric_setting_declares_its_range():
    """The schema's guard: a numeric field (or container of numbers) added without a range in BOUNDS, to
    any configuration read from a file, a recipe or the command line, fails here."""
    import attrs

    from nasplug.core.schema import SEED_RANGE, undeclared_ranges
    from nasplug.data.preprocessing import Preprocessing
    from nasplug.protocol.seeds import ProtocolPlan

    for cls in (SearchConfig, TrainConfig, ProtocolPlan, Preprocessing):
        assert undeclared_ranges(cls) == [], cls
        assert cls.BOUNDS.get("seed", SEED_RANGE) == SEED_RANGE  # what the data loaders accept

    @attrs.frozen
    class Planted:
        name: str
        scale: tuple[float, ...]
        counts: dict[str, list[int]] | None
        options: dict[str, object]

    assert undeclared_ranges(Planted) == ["scale", "counts"]


def test_numbers_inside_a_container_are_checked_against_its_range():
    from nasplug.data.preprocessing import Preprocessing

    with pytest.raises(ValueError, match="std holds 0.0, which lies outside"):
        Preprocessing("RGB", 255, 32, 32, [0.5] * 3, [0.2, 0.0, 0.2], ["cat"])


@pytest.mark.parametrize("seed", ["-1", str(2**64)])
def test_a_seed_outside_what_the_generators_take_is_refused_where_it_is_parsed(tmp_path, seed):
    result = cli(*SEARCH2, "--seed", seed, "--out", tmp_path / "out")
    assert result.exit_code in (1, 2) and "Traceback" not in result.output, result.output
    assert "seed" in result.output.strip().splitlines()[-1]
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------- config.json

CONFIG_EDITS = [
    ("epochs", 2.5, "epochs must be int"),
    ("seed", "abc", "seed must be int"),
    ("seed", 2**80, "lies outside 64 bits"),
    ("dataset", 5, "dataset must be str"),
    ("amp", "yes", "amp must be bool or null"),
    ("momentum", -0.5, "momentum=-0.5 lies outside"),
    ("weight_decay", -1, "weight_decay=-1 lies outside"),
    ("lr", 1e308, "lr=1e+308 lies outside"),
]


@pytest.mark.parametrize("kind, key, value, fragment", [
    *[("run", *edit) for edit in CONFIG_EDITS],
    *[("train", *edit) for edit in CONFIG_EDITS],
    ("run", "space_options", ["layers", 3], "space_options must be dict"),
    ("run", "init_from", 3, "init_from must be str or null"),
    ("train", "network_options", ["layers", 3], "network_options must be dict"),
])
def test_a_hand_edited_config_is_one_line(finished_search, finished_training, tmp_path, kind, key, value,
                                          fragment):
    run = tmp_path / kind
    shutil.copytree(finished_search if kind == "run" else finished_training, run)
    config = json.loads((run / "config.json").read_text())
    config[key] = value
    (run / "config.json").write_text(json.dumps(config))
    before = snapshot(run)
    assert_one_line_error(cli(kind, "--resume", run), "config.json", fragment)
    assert snapshot(run) == before


def test_a_nan_in_config_json_is_one_line(finished_search, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished_search, run)
    text = (run / "config.json").read_text().replace('"grad_clip": 5.0', '"grad_clip": NaN')
    (run / "config.json").write_text(text)
    assert_one_line_error(cli("run", "--resume", run), "config.json", "not a finite number")


# ---------------------------------------------------------------------------- history.jsonl


def _first_record(text: str) -> dict:
    return json.loads(text.splitlines()[0])


@pytest.mark.parametrize("damage, fragment", [
    (lambda text: b"\xff\xfe" + text.encode(), "not UTF-8"),
    (lambda text: "[1, 2]\n" + text, "line 1: not a nasplug search history (a list"),
    (lambda text: json.dumps({k: v for k, v in _first_record(text).items() if k != "distribution"}) + "\n",
     "line 1: the record has no 'distribution'"),
    (lambda text: json.dumps({**_first_record(text), "epoch": "one"}) + "\n", "'epoch' is 'one'"),
    (lambda text: text.replace('"lr": ', '"lr": NaN, "old_lr": ', 1), "not a finite number"),
    (lambda text: text.splitlines()[1] + "\n", "the record of epoch 1 says epoch 2"),
])
def test_a_damaged_history_is_one_line(finished_search, tmp_path, damage, fragment):
    pytest.importorskip("matplotlib")
    run = tmp_path / "run"
    shutil.copytree(finished_search, run)
    damaged = damage((run / "history.jsonl").read_text())
    (run / "history.jsonl").write_bytes(damaged if isinstance(damaged, bytes) else damaged.encode())
    assert_one_line_error(cli("plot", run), "history.jsonl", fragment)
    assert not (run / "plots").exists()


# ---------------------------------------------------------------------------- genotype files


@pytest.mark.parametrize("text, fragment", [
    ("[1, 2]", "expected a JSON object, got list"),
    ("[" * 10_000 + "]" * 10_000, "nested too deeply"),
    ('{"space": "darts-cell", "normal": ' + "9" * 5000 + "}", "digits"),
    ('{"space": "darts-cell", "normal": [["sep_conv_3x3", 1e400]]}', "not a finite number"),
    ('{"space": "darts-cell", "normal": ' + "[" * 40 + "]" * 40 + "}", "nested more than 32 levels"),
])
@pytest.mark.parametrize("command", [["show"], ["train", *TINY, "--genotype"]])
def test_a_hostile_genotype_file_is_one_line(tmp_path, text, fragment, command):
    path = tmp_path / "genotype.json"
    path.write_text(text)
    assert_one_line_error(cli(*command, path, *(["--out", tmp_path / "t"] if command[0] == "train" else [])),
                          "genotype.json", fragment)
    assert not (tmp_path / "t").exists()


# ---------------------------------------------------------------------------- recipes


@pytest.mark.parametrize("setting, fragment", [
    ("momentum = -0.9", "momentum = -0.9 lies outside"),
    ("weight_decay = -1.0", "weight_decay = -1.0 lies outside"),
    ("grad_clip = nan", "nan is not a finite number"),
])
@pytest.mark.parametrize("command", ["run", "train"])
def test_a_recipe_with_a_bad_number_is_one_line(tmp_path, setting, fragment, command):
    names = ('space = "darts-cell"\ncontroller = "random"\n' if command == "run" else
             'genotype = "DARTS_V2"\n')
    recipe = tmp_path / "bad.toml"
    recipe.write_text(f'description = "hostile"\ncommand = "{command}"\n\n[settings]\n{names}'
                      f'dataset = "digits"\n{setting}\n')
    assert_one_line_error(cli(command, "--recipe", recipe, "--out", tmp_path / "out"), "bad.toml", fragment)
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------- flags


@pytest.mark.parametrize("flags, fragment", [
    (["--lr", "1e308"], "lr=1e+308 lies outside"),
    (["--seed", str(2**80)], "lies outside 64 bits"),
    (["--channels", "99999999"], "does not fit in memory"),
    (["--layers", "1000000"], "option 'layers' must be at most 1000, got 1000000"),
    (["--channels", "4096", "--layers", "20"], "GiB, more than the"),
])
@pytest.mark.parametrize("command", [SEARCH2, TRAIN2])
def test_out_of_range_flags_are_refused_before_anything_is_built(tmp_path, flags, fragment, command):
    assert_one_line_error(cli(*command, *flags, "--out", tmp_path / "out"), fragment)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", [SEARCH2, TRAIN2])
def test_an_out_name_too_long_is_one_line(tmp_path, command):
    assert_one_line_error(cli(*command, "--out", tmp_path / ("x" * 300)), "File name too long")


def test_more_threads_than_cores_warns():
    from nasplug.runs.environment import available_cores, oversubscription

    cores = available_cores()
    warning = oversubscription(cores + 1)
    assert "slower, not faster" in warning and f"--threads {cores}" in warning
    assert oversubscription(cores) is None


@pytest.mark.parametrize("command", [
    [*SEARCH2, "--threads"], [*TRAIN2, "--threads"],
    ["latency", "--genotype", "DARTS_V2", "--layers", "1", "--channels", "4", "--threads"],
])
def test_far_more_threads_than_cores_is_refused_before_torch_sees_them(tmp_path, command):
    import torch

    from nasplug.runs.environment import THREADS_PER_CORE_LIMIT, available_cores

    before = torch.get_num_threads()
    too_many = THREADS_PER_CORE_LIMIT * available_cores() + 1
    for threads in (too_many, 10**6):
        line = assert_one_line_error(cli(*command, str(threads), "--out", tmp_path / "out")
                                     if command[0] != "latency" else cli(*command, str(threads)),
                                     f"{threads} threads on", "refused")
        assert "Traceback" not in line
    assert torch.get_num_threads() == before and not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", [
    ["ranking", "--space", "darts-cell", "--layers", "2", "--channels", "4", "--architectures", "2"],
    ["export", "DARTS_V2", "--dataset", "digits", "--format", "safetensors"],
])
def test_a_seed_beyond_64_bits_is_refused_where_the_flag_is_parsed(tmp_path, command):
    result = cli(*command, "--seed", str(2**80), "--out", tmp_path / "out")
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert result.output.strip().splitlines()[-1].startswith("Error: Invalid value for '--seed'")
    assert not (tmp_path / "out").exists()


RANKING = ["ranking", "--space", "darts-cell", "--layers", "2", "--channels", "4", "--architectures", "2",
           "--epochs", "2", "--quiet"]


def test_a_ranking_at_the_largest_seed_trains_every_child(tmp_path):
    result = cli(*RANKING, "--seed", str(2**64 - 1), "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "out" / "ranking.json").read_text())
    assert saved["seed"] == 2**64 - 1 and [len(sample["accuracy"]) for sample in saved["samples"]] == [2, 2]


def test_a_ranking_child_too_wide_is_refused_before_it_is_built(tmp_path):
    result = cli(*RANKING, "--channels", "99999999", "--out", tmp_path / "out")  # the last --channels counts
    assert_one_line_error(result, "child 1 of darts-cell", "does not fit in memory")


def test_a_folder_whose_config_is_hostile_is_not_taken_for_a_training(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "config.json").write_text("[" * 10_000 + "]" * 10_000)
    assert_one_line_error(cli("export", folder, "--untrained", "--format", "safetensors",
                              "--out", tmp_path / "net.safetensors"),
                          "config.json", "nested too deeply")


@pytest.mark.parametrize("key, text", [("genotype", "[" * 10_000), ("data_shape", '{"classes": 10}'),
                                       ("network_options", "NaN")])
def test_a_safetensors_file_with_damaged_metadata_is_one_line(tmp_path, key, text):
    import torch
    from safetensors.torch import save_file

    from nasplug.networks.weights import METADATA_FORMAT, WeightsError, load_safetensors
    from nasplug.plugin import load_plugins

    hooks = load_plugins()
    darts_v2 = hooks.space_entry("darts-cell").cls.published_genotypes()["DARTS_V2"]
    metadata = {"format": METADATA_FORMAT, "space": "darts-cell", "genotype": json.dumps(darts_v2.to_json()),
                "data_shape": json.dumps({"num_classes": 10, "in_channels": 1, "input_size": 8}),
                "network_options": json.dumps({"layers": 3, "channels": 4}), key: text}
    path = tmp_path / "net.safetensors"
    save_file({"w": torch.zeros(1)}, path, metadata=metadata)
    with pytest.raises(WeightsError, match="net.safetensors"):
        load_safetensors(path, hooks)


def test_a_nas_bench_201_network_too_deep_to_build_is_refused(tmp_path):
    pytest.importorskip("nasplug_nb201")
    run = ["run", "--space", "nas-bench-201", "--controller", "random", "--dataset", "digits", "--epochs", "1",
           "--threads", "1", "--quiet", "--out", tmp_path / "out"]
    assert_one_line_error(cli(*run, "-o", "cells=1000000"), "option 'cells' must be at most 1000")
    assert not (tmp_path / "out").exists()
