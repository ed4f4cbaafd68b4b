"""Plugin faults of the second hostile round: every one blamed on the plugin by name (issue 28)."""

from __future__ import annotations

import shutil

import pytest

from reliability import assert_one_line_error, cli

pytestmark = pytest.mark.slow

TINY = ["--space", "darts-cell", "--dataset", "digits", "--layers", "3", "--channels", "4", "--threads", "1",
        "--quiet"]

FAULTY = '''
    import torch
    import nasplug
    from nasplug import Architecture, GatedChoice
    from nasplug.controllers.random import RandomController


    def _first(controller):
        return controller.decisions[0].key


    class SamplesNothing(RandomController):
        @nasplug.hookimpl
        def sample_architecture(self):
            return []


    class ChoosesAString(RandomController):
        @nasplug.hookimpl
        def sample_architecture(self):
            return [Architecture({_first(self): [GatedChoice("sep_conv_3x3")]})]


    class ChoosesAFloat(RandomController):
        @nasplug.hookimpl
        def sample_architecture(self):
            return [Architecture({_first(self): [GatedChoice(1.5)]})]


    class ChoosesOutOfRange(RandomController):
        @nasplug.hookimpl
        def sample_architecture(self):
            return [Architecture({_first(self): [GatedChoice(99)]})]


    class GatesOfTheWrongShape(RandomController):
        @nasplug.hookimpl
        def sample_architecture(self):
            return [Architecture({_first(self): [GatedChoice(1, torch.ones(3, 2))]})]


    class NegativeWeights(RandomController):
        @nasplug.hookimpl
        def sample_weights(self, samples):
            return [-1.0] * len(samples)


    class NegativeProbabilities(RandomController):
        @nasplug.hookimpl
        def report_distribution(self):
            reported = super().report_distribution()
            reported[_first(self)] = [-0.5] + reported[_first(self)][1:]
            return reported


    class UnknownKeys(RandomController):
        @nasplug.hookimpl
        def report_distribution(self):
            return {**super().report_distribution(), "no_such_decision": [1.0]}


    class TooFewProbabilities(RandomController):
        @nasplug.hookimpl
        def report_distribution(self):
            reported = super().report_distribution()
            reported[_first(self)] = [1.0]
            return reported


    class MutatesTheSpace(RandomController):
        @nasplug.hookimpl
        def update_distribution(self, space):
            space.config["channels"] = 99


    class StateDictRaises(RandomController):
        def state_dict(self):
            raise RuntimeError("cannot serialise the visits")


    class LoadStateDictRaises(RandomController):
        def load_state_dict(self, state):
            raise AttributeError("'NoneType' object has no attribute 'clone'")


    class TransferRaises(RandomController):
        def transfer_state(self, state):
            raise ZeroDivisionError("division by zero")
'''

CASES = {
    "samples-nothing": ("SamplesNothing", "sample_architecture returned no architectures"),
    "chooses-a-string": ("ChoosesAString", "choice 'sep_conv_3x3' for"),
    "chooses-a-float": ("ChoosesAFloat", "choice 1.5 for"),
    "chooses-out-of-range": ("ChoosesOutOfRange", "choice 99 for"),
    "gates-of-the-wrong-shape": ("GatesOfTheWrongShape", "has shape (3, 2), expected a scalar"),
    "negative-weights": ("NegativeWeights", "sample_weights returned the negative weight -1"),
    "negative-probabilities": ("NegativeProbabilities", "the probability -0.5"),
    "unknown-keys": ("UnknownKeys", "the unknown decision key 'no_such_decision'"),
    "too-few-probabilities": ("TooFewProbabilities", "1 probabilities for"),
    "mutates-the-space": ("MutatesTheSpace", "the search space changed during the epoch"),
    "state-dict-raises": ("StateDictRaises", "failed in state_dict: RuntimeError: cannot serialise"),
    "load-state-dict-raises": ("LoadStateDictRaises", "failed in load_state_dict: AttributeError"),
    "transfer-raises": ("TransferRaises", "failed in transfer_state: ZeroDivisionError"),
}


@pytest.fixture
def faulty(fake_dist):
    fake_dist("nasplug-faulty2", {"nasplug.controllers": {name: f"faulty2_controllers:{cls}"
                                                          for name, (cls, _) in CASES.items()}},
              {"faulty2_controllers.py": FAULTY})


@pytest.fixture(scope="module")
def earlier(tmp_path_factory):
    """A finished random search, to resume with or start from (--init-from)."""
    out = tmp_path_factory.mktemp("earlier") / "run"
    result = cli("run", *TINY, "--controller", "random", "--epochs", "1", "--out", out)
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("name", sorted(set(CASES) - {"load-state-dict-raises", "transfer-raises"}))
def test_a_faulty_controller_is_named_with_its_hook_and_fault(faulty, tmp_path, name):
    out = tmp_path / "run"
    assert_one_line_error(cli("run", *TINY, "--controller", name, "--epochs", "1", "--out", out),
                          f"controller {name!r} (nasplug-faulty2 1.2.3)", CASES[name][1])
    assert not list(out.glob("checkpoints/*.pt"))


def test_a_controller_failing_to_load_its_state_is_named(faulty, earlier, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(earlier, run)
    config = (run / "config.json").read_text().replace('"controller": "random"',
                                                        '"controller": "load-state-dict-raises"')
    (run / "config.json").write_text(config)
    from nasplug.runs.checkpoint import load_checkpoint, save_checkpoint

    path = run / "checkpoints" / "epoch-0001.pt"
    state = load_checkpoint(path)
    state["config"]["controller"] = "load-state-dict-raises"
    save_checkpoint(path, state)
    (run / "genotype.json").unlink()
    assert_one_line_error(cli("run", "--resume", run), "controller 'load-state-dict-raises' (nasplug-faulty2",
                          CASES["load-state-dict-raises"][1])


def test_a_controller_failing_to_transfer_a_state_is_named(faulty, earlier, tmp_path):
    out = tmp_path / "run"
    assert_one_line_error(cli("run", *TINY, "--controller", "transfer-raises", "--epochs", "1",
                              "--init-from", earlier, "--out", out),
                          "controller 'transfer-raises' (nasplug-faulty2", CASES["transfer-raises"][1])


DATASETS = '''
    import nasplug

    class ListsRaises:
        @nasplug.hookimpl
        def list_datasets(self):
            raise OSError("the catalogue server is down")

    class ListsGarbage:
        @nasplug.hookimpl
        def list_datasets(self):
            return {"mnist-ish": "not a DatasetInfo"}

    lists_raises = ListsRaises()
    lists_garbage = ListsGarbage()
'''


@pytest.mark.parametrize("plugin, fragment", [
    ("lists_raises", "failed in list_datasets: OSError: the catalogue server is down"),
    ("lists_garbage", "list_datasets returned a dict"),
])
def test_a_faulty_dataset_plugin_is_named(fake_dist, tmp_path, plugin, fragment):
    fake_dist("nasplug-baddata", {"nasplug": {plugin: f"baddata:{plugin}"}}, {"baddata.py": DATASETS})
    assert_one_line_error(cli("run", *TINY, "--controller", "random", "--epochs", "1", "--out", tmp_path / "r"),
                          f"'{plugin}' (nasplug-baddata 1.2.3)", fragment)


OBSERVER = '''
    import nasplug

    @nasplug.hookimpl
    def train_epoch_finished(record, out_dir):
        raise OSError("the logging server is down")
'''


def test_a_faulty_training_observer_is_warned_about_and_loses_no_epoch(fake_dist, tmp_path):
    fake_dist("nasplug-badtrainlogger", {"nasplug": {"badtrainlogger": "badtrainlogger"}},
              {"badtrainlogger.py": OBSERVER})
    out = tmp_path / "train"
    result = cli("train", "--genotype", "DARTS_V2", "--dataset", "digits", "--layers", "3", "--channels", "4",
                 "--epochs", "2", "--threads", "1", "--out", out)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 2, result.output
    assert "plugin 'badtrainlogger' (nasplug-badtrainlogger 1.2.3) failed in train_epoch_finished" in warnings[0]
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2
