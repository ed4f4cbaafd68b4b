"""`nasplug protocol`: N searches, a stated pick, M evaluation seeds, mean ± std; a rerun resumes."""

from __future__ import annotations

import json
import statistics

import attrs
import pytest

from nasplug.core.errors import NasplugError
from nasplug.plugin import load_plugins
from nasplug.protocol import ProtocolError, ProtocolPlan, run_protocol
from nasplug.protocol import seeds
from nasplug.protocol.seeds import mean_and_std, pick_searches
from nasplug.testing import run_cli

SEARCH = """command = "run"
[settings]
space = "darts-cell"         # a test's search: DARTS cells on digits
controller = "random"
dataset = "digits"
epochs = 1
batch_size = 64
device = "cpu"
[space]
layers = 3
channels = 4
"""
EVAL = """command = "train"
[settings]
dataset = "digits"           # a test's evaluation: one epoch of a 3-cell network
epochs = 1
batch_size = 128
auxiliary_weight = 0.0
device = "cpu"
[network]
layers = 3
channels = 4
"""


@pytest.fixture()
def plan(tmp_path):
    (tmp_path / "search.toml").write_text(SEARCH)
    (tmp_path / "eval.toml").write_text(EVAL)
    return ProtocolPlan(str(tmp_path / "search.toml"), str(tmp_path / "eval.toml"), searches=2, eval_seeds=2,
                        pick="search-accuracy", seed=3, search_options={"derive": "random"})


def test_mean_and_sample_std_and_the_pick_by_hand():
    assert mean_and_std([0.5, 0.7]) == (pytest.approx(0.6), pytest.approx(0.1414213562))
    assert mean_and_std([0.9]) == (0.9, 0.0)
    searches = [{"search": 1, "criterion": 0.4}, {"search": 2, "criterion": 0.6}, {"search": 3, "criterion": 0.6}]
    assert pick_searches(searches, "search-accuracy") == [2]  # the first of the best
    assert pick_searches(searches, "all") == [1, 2, 3]


def test_protocol_runs_members_as_ordinary_folders_and_a_rerun_skips_them(tmp_path, plan, monkeypatch):
    out = tmp_path / "protocol"
    result = run_protocol(plan, out, hooks=load_plugins(), progress=False, threads=1)

    # Search i has seed 3 + i − 1; the pick is the best last-epoch search accuracy, from its history.
    seeds_used = [json.loads((out / f"search-{i}" / "config.json").read_text())["seed"] for i in (1, 2)]
    assert seeds_used == [3, 4]
    criteria = [json.loads((out / f"search-{i}" / "history.jsonl").read_text().splitlines()[-1])
                for i in (1, 2)]
    values = [record.get("derived_accuracy", record["search_accuracy"]) for record in criteria]
    best = 1 + values.index(max(values))
    assert result.picked == [best]
    # Each evaluation is a training folder of the picked genotype, seeds 3 and 4; mean ± std of its top-1.
    top1 = []
    for seed_index, seed in ((1, 3), (2, 4)):
        results = json.loads((out / f"eval-{best}-{seed_index}" / "results.json").read_text())
        assert results["config"]["seed"] == seed
        assert results["genotype"] == json.loads((out / f"search-{best}" / "genotype.json").read_text())
        top1.append(results["top1"])
    [summary] = result.summary
    assert summary["top1_mean"] == pytest.approx(statistics.fmean(top1))
    assert summary["top1_std"] == pytest.approx(statistics.stdev(top1))
    assert json.loads((out / "protocol.json").read_text())["summary"] == result.summary

    # The same command again runs nothing; an evaluation that lost its final file is resumed, not redone.
    def refuse(*args, **kwargs):
        raise AssertionError("a finished member ran again")

    resumed = []
    monkeypatch.setattr(seeds.api, "search", refuse)
    monkeypatch.setattr(seeds.api, "train", refuse)
    monkeypatch.setattr(seeds.api, "resume_search", refuse)
    original = seeds.api.resume_training
    monkeypatch.setattr(seeds.api, "resume_training",
                        lambda folder, **kw: resumed.append(folder.name) or original(folder, **kw))
    (out / f"eval-{best}-2" / "results.json").unlink()
    again = run_protocol(plan, out, hooks=load_plugins(), progress=False, threads=1)
    assert resumed == [f"eval-{best}-2"]
    assert again.summary == result.summary


def test_a_folder_of_another_plan_is_refused(tmp_path, plan):
    out = tmp_path / "protocol"
    out.mkdir()
    (out / "protocol.json").write_text(json.dumps({"format": 1, "plan": {"searches": 9}}))
    with pytest.raises(ProtocolError, match="another plan"):
        run_protocol(plan, out, progress=False)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(ProtocolError, match="not empty"):
        run_protocol(plan, tmp_path / "busy", progress=False)
    with pytest.raises(ProtocolError, match="unknown pick 'median'; available: all, search-accuracy"):
        ProtocolPlan("a", "b", pick="median")


def test_the_command_prints_mean_and_std(tmp_path, plan):
    out = tmp_path / "cli"
    result = run_cli("protocol", "--search-recipe", plan.search_recipe, "--eval-recipe", plan.eval_recipe,
                     "--searches", "1", "--eval-seeds", "2", "--search-option", "derive=random",
                     "--train", "epochs=1", "--threads", "1", "--quiet", "--out", out)
    assert "search 1: test top-1" in result.output and "over 2 seeds" in result.output
    assert (out / "eval-1-2" / "results.json").exists()


def test_a_mistyped_plan_is_refused_before_the_folder_is_claimed(tmp_path, plan):
    out = tmp_path / "protocol"
    for wrong, match in ((attrs.evolve(plan, eval_recipe="no-such-recipe"), "no-such-recipe"),
                         (attrs.evolve(plan, search_settings={"epochs": "two"}), "epochs"),
                         (attrs.evolve(plan, train_options={"no_such_option": 1}), "no_such_option")):
        with pytest.raises(NasplugError, match=match):
            run_protocol(wrong, out, progress=False)
        assert not (out / "protocol.json").exists()


@pytest.mark.parametrize("command, key", [("search", "threads"), ("search", "seed"), ("search", "out"),
                                          ("train", "genotype"), ("train", "recipe"), ("train", "progress")])
def test_settings_the_protocol_sets_itself_are_refused_in_one_line(tmp_path, plan, command, key):
    result = run_cli("protocol", "--search-recipe", plan.search_recipe, "--eval-recipe", plan.eval_recipe,
                     f"--{command}", f"{key}=2", "--out", tmp_path / "out", exit_code=1)
    assert f"--{command} {key}: set by the protocol" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()


def test_a_member_folder_killed_before_its_config_starts_afresh(tmp_path, plan):
    out = tmp_path / "protocol"
    one = attrs.evolve(plan, searches=1, eval_seeds=1)
    (out / "search-1").mkdir(parents=True)
    (out / "protocol.json").write_text(json.dumps({"format": 1, "plan": one.to_json()}))  # the first try's
    # SIGKILL while loading data: the run's lock made the folder
    (out / "search-1" / ".nasplug.lock").write_text("")
    (out / "eval-1-1").mkdir()  # and an evaluation killed as early, left empty
    result = run_protocol(one, out, hooks=load_plugins(), progress=False, threads=1)
    assert (out / "search-1" / "genotype.json").exists() and (out / "eval-1-1" / "results.json").exists()
    assert len(result.evaluations) == 1


def test_an_empty_or_broken_history_is_a_one_line_error(tmp_path):
    (tmp_path / "history.jsonl").write_text("")
    with pytest.raises(ProtocolError, match="history.jsonl: no epoch recorded"):
        seeds.search_criterion(tmp_path)
    (tmp_path / "history.jsonl").write_text('{"search_accuracy": 0.5}\n{"trunc')
    with pytest.raises(ProtocolError, match="history.jsonl: the last line is not an epoch record"):
        seeds.search_criterion(tmp_path)
