"""Every hook has a test, and each hook's own test checks it where the engine (or ``nasplug train``) calls it."""

import ast
import inspect
import json
import math
import re
from pathlib import Path

import pytest
import torch

from nasplug import Architecture, Controller, NasplugError, hookimpl
from nasplug.api import train_config
from nasplug.data.bundle import DataBundle, DatasetInfo, DatasetOptions, TensorImages
from nasplug.plugin import hookspecs
from nasplug.plugin import load_plugins
from nasplug.search import SearchConfig, run_search
from nasplug.testing import SMALL_DATA, TinyGenotype, TinySpace, TinySpacePlugin, controller_hooks, feedback
from nasplug.testing import run_steps, tiny_space
from nasplug.testing.driver import BATCH_SIZE
from nasplug.train import train_network

ROOT = Path(__file__).resolve().parent.parent
HOOKS = sorted(name for name, obj in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(obj, "nasplug_spec"))
DECISIONS = {"a": 3, "b": 2}


# --------------------------------------------------------------------------- every hook has a test


def hooks_named(test_name):
    """The hooks a test function's name names: each as a whole word between underscores, the longest
    first, so ``test_train_epoch_finished`` names ``train_epoch_finished`` and not ``epoch_finished``."""
    named, rest = set(), test_name
    for hook in sorted(HOOKS, key=len, reverse=True):
        pattern = rf"(?<![a-z0-9]){hook}(?![a-z0-9])"
        if re.search(pattern, rest):
            named.add(hook)
            rest = re.sub(pattern, " ", rest)
    return named


def all_test_function_names():
    files = [*ROOT.glob("tests/**/test_*.py"), *ROOT.glob("plugins/*/tests/**/test_*.py")]
    return {node.name for path in files for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_")}


def test_plugin_hooks_have_tests():
    """Every hook in nasplug/plugin/hookspecs.py is named by at least one test function.

    The rule: a ``def test_...`` (at any depth) in ``tests/`` or ``plugins/*/tests/`` whose name holds
    the hook's name as whole words (``test_update_distribution_follows_the_weight_step`` tests
    ``update_distribution``); a longer hook's name does not count for a shorter one inside it.
    """
    covered = set().union(*map(hooks_named, all_test_function_names()))
    assert HOOKS and [hook for hook in HOOKS if hook not in covered] == []


def test_a_hook_is_named_only_by_whole_words():
    assert hooks_named("test_train_epoch_finished_sees_metrics") == {"train_epoch_finished"}
    assert hooks_named("test_epoch_finished_and_derive_genotype") == {"epoch_finished", "derive_genotype"}
    assert hooks_named("test_resampled_architecture") == set()


# --------------------------------------------------------------------------- a controller that logs


class Scripted(Controller):
    """Samples choice ``index % len`` of every decision (``samples`` per step), logs each hook call."""

    def __init__(self, space, options, seed, samples=1, weights=None, log=None):
        super().__init__(space, options, seed)
        self.samples, self.weights = samples, weights
        self.log = [] if log is None else log

    @hookimpl
    def sample_architecture(self, space, step):
        self.log.append(("sample_architecture", step))
        return [Architecture.single_path({d.key: k % len(d) for d in space.decisions()}) for k in range(self.samples)]

    @hookimpl
    def record_feedback(self, space, samples, feedback, step):
        self.log.append(("record_feedback", step, [s.choices() for s in samples], list(feedback)))

    @hookimpl
    def sample_weights(self, space, samples, feedback, step):
        self.log.append(("sample_weights", step, list(feedback)))
        return self.weights

    @hookimpl
    def update_distribution(self, space, step):
        self.log.append(("update_distribution", step))

    @hookimpl
    def derive_genotype(self, space):
        self.log.append(("derive_genotype",))
        return TinyGenotype({"a": "a-1", "b": "b-0"})

    @hookimpl
    def report_distribution(self, space):
        self.log.append(("report_distribution",))
        return {"a": [0.5, 0.25, 0.25], "b": [1.0, 0.0]}


def calls(log, hook):
    return [entry for entry in log if entry[0] == hook]


def random_images(count=256, seed=0):
    generator = torch.Generator().manual_seed(seed)
    shape = (count, SMALL_DATA.in_channels, SMALL_DATA.input_size, SMALL_DATA.input_size)
    labels = torch.randint(SMALL_DATA.num_classes, (count,), generator=generator)
    classes = [str(c) for c in range(SMALL_DATA.num_classes)]
    return TensorImages(torch.randn(shape, generator=generator), labels, classes)


def random_bundle():
    return DataBundle("random", random_images(), random_images(64, seed=1), SMALL_DATA)


def tiny_search(tmp_path, controller, hooks=None, epochs=2, **settings):
    """``epochs`` epochs of 2 steps on the tiny space, through run_search."""
    hooks = hooks or load_plugins(load_entry_points=False)
    hooks.pm.register(TinySpacePlugin(DECISIONS), name="tiny-space")
    config = SearchConfig(space="tiny", controller="scripted", epochs=epochs, batch_size=64, eval_derived=False,
                          device="cpu", **settings)
    data = None if "dataset" in settings else random_bundle()
    return run_search(config, tmp_path / "run", hooks=hooks, data=data, controller=controller)


def scripted(**options):
    return Scripted(tiny_space(DECISIONS), {}, seed=0, **options)


# --------------------------------------------------------------------------- space and dataset hooks


def test_list_search_spaces_lists_a_plugin_s_space_and_refuses_a_wrong_return():
    hooks = load_plugins(load_entry_points=False)
    assert "tiny" not in hooks.spaces()
    hooks.pm.register(TinySpacePlugin(), name="tiny-space")
    assert hooks.spaces()["tiny"].cls is TinySpace

    class ListsNames:
        @hookimpl
        def list_search_spaces(self):
            return ["tiny"]

    hooks.pm.register(ListsNames(), name="lists-names")
    with pytest.raises(NasplugError, match="lists-names.*list_search_spaces returned"):
        hooks.spaces()


def test_build_search_space_builds_the_space_the_run_searches(tmp_path):
    hooks = load_plugins(load_entry_points=False)
    hooks.pm.register(TinySpacePlugin({"x": 2, "y": 4}), name="tiny-space")
    config = SearchConfig(space="tiny", controller="random", epochs=1, batch_size=64, eval_derived=False,
                          device="cpu")
    result = run_search(config, tmp_path / "run", hooks=hooks, data=random_bundle())
    # TinySpace built as cls(data, options) would have the default decisions first, second, third.
    assert set(result.genotype.choices) == {"x", "y"}
    assert result.history[0]["choices"] == {"x": ["x-0", "x-1"], "y": ["y-0", "y-1", "y-2", "y-3"]}


class TinySet:
    """Lists and builds the dataset ``Tiny-Set``, noting the options each build is given."""

    def __init__(self):
        self.options = []

    @hookimpl
    def list_datasets(self):
        return {"Tiny-Set": DatasetInfo("random images", SMALL_DATA)}

    @hookimpl
    def build_dataset(self, name, options):
        if name != "Tiny-Set":
            return None
        self.options.append(options)
        return random_bundle()


def test_list_datasets_names_a_plugin_s_dataset_and_its_shape():
    hooks = load_plugins(load_entry_points=False)
    assert "Tiny-Set" not in hooks.datasets()
    hooks.pm.register(TinySet(), name="tiny-set")
    assert hooks.datasets()["Tiny-Set"].info == DatasetInfo("random images", SMALL_DATA)
    assert hooks.dataset_entry("tiny-set").name == "Tiny-Set"  # case-insensitive where no exact spelling


def test_build_dataset_loads_the_run_s_data_with_every_option_it_asks_for(tmp_path):
    hooks = load_plugins(load_entry_points=False)
    plugin = TinySet()
    hooks.pm.register(plugin, name="tiny-set")
    result = tiny_search(tmp_path, scripted(), hooks, epochs=1, dataset="tiny-set", cutout=2,
                         normalisation="symmetric")
    assert plugin.options == [DatasetOptions(augment=True, cutout=2, download=True, input_size=None,
                                             normalisation="symmetric")]
    assert result.history[0]["steps"] == 2  # 256 images, half of them trained on in batches of 64


# --------------------------------------------------------------------------- controller hooks


def engine_log(give, epochs=2, steps=3, **options):
    """The real engine's calls into a Scripted controller (and into ``give``, on each supernet forward)."""
    space = tiny_space(DECISIONS)
    log = []
    controller = Scripted(space, {}, seed=0, log=log, **options)

    def logged(sample):
        log.append(("forward", torch.is_grad_enabled()))
        return give(sample)

    sampled = run_steps(controller_hooks(controller, "scripted"), space, logged, epochs=epochs, steps=steps)
    return log, sampled


def test_sample_architecture_starts_every_step_and_its_samples_are_the_ones_evaluated():
    log, sampled = engine_log(lambda sample: feedback(0.5, 1.0), samples=2)
    steps = [entry[1] for entry in calls(log, "sample_architecture")]
    assert [(s.epoch, s.index, s.steps_per_epoch, s.epochs) for s in steps] == [
        (epoch, index, 3, 2) for epoch in range(2) for index in range(3)]
    recorded = calls(log, "record_feedback")
    assert [entry[2] for entry in recorded] == [[{"a": (0,), "b": (0,)}, {"a": (1,), "b": (1,)}]] * 6
    assert sampled == [choices for entry in recorded for choices in entry[2]]
    second = log.index(calls(log, "sample_architecture")[1])
    assert log[second - 1][0] == "update_distribution"  # nothing of a step comes before its sampling


def test_record_feedback_gives_each_sample_its_own_feedback_before_the_weight_step():
    def give(sample):
        accuracy = 0.25 + 0.5 * sample.choices()["a"][0]
        return feedback(accuracy, 1.5 - accuracy)

    log, _ = engine_log(give, samples=2)
    for entry in calls(log, "record_feedback"):
        assert [round(float(f.accuracy), 6) for f in entry[3]] == [0.25, 0.75]
        assert [round(float(f.loss), 5) for f in entry[3]] == [1.25, 0.75]
        assert [f.batch_size for f in entry[3]] == [BATCH_SIZE, BATCH_SIZE]
        position = log.index(entry)
        assert log[position - 2:position] == [("forward", False)] * 2  # measured without a graph
    order = [entry[0] if entry[0] != "forward" else entry for entry in log]
    one_step = ["sample_architecture", ("forward", False), ("forward", False), "record_feedback",
                "sample_weights", ("forward", True), ("forward", True), "update_distribution"]
    assert order[:len(one_step)] == one_step


def test_sample_weights_weigh_the_training_losses(tmp_path):
    alone = tiny_search(tmp_path / "alone", scripted(samples=1)).history
    log = []
    weighted = tiny_search(tmp_path / "weighted", scripted(samples=2, weights=[1.0, 0.0], log=log)).history
    evenly = tiny_search(tmp_path / "evenly", scripted(samples=2)).history
    # The second sample weighs nothing: the weights train exactly as with the first alone.
    assert [r["train_loss"] for r in weighted] == [r["train_loss"] for r in alone]
    assert [r["train_loss"] for r in evenly] != [r["train_loss"] for r in alone]
    assert [r["search_loss"] for r in weighted] != [r["search_loss"] for r in alone]  # both were evaluated
    for weights_call, feedback_call in zip(calls(log, "sample_weights"), calls(log, "record_feedback")):
        assert weights_call[1] == feedback_call[1] and weights_call[2] == feedback_call[3]


def test_sample_weights_of_the_wrong_length_are_a_plugin_error(tmp_path):
    with pytest.raises(NasplugError, match="returned 1 weights for 2 samples"):
        tiny_search(tmp_path, scripted(samples=2, weights=[1.0]))


def test_update_distribution_follows_each_step_s_weight_step_and_marks_each_epoch_s_end():
    log, _ = engine_log(lambda sample: feedback(0.5, 1.0), epochs=2, steps=3)
    updates = calls(log, "update_distribution")
    assert [(u[1].epoch, u[1].index, u[1].epoch_end) for u in updates] == [
        (0, 0, False), (0, 1, False), (0, 2, True), (1, 0, False), (1, 1, False), (1, 2, True)]
    assert [u[1] for u in updates] == [s[1] for s in calls(log, "sample_architecture")]  # once per step
    for update in updates:
        position = log.index(update)
        assert log[position - 1] == ("forward", True)  # right after the weight step's forward
        assert calls(log[:position], "sample_weights")[-1][1] == update[1]


def test_derive_genotype_is_each_epoch_s_genotype_and_the_run_s_result(tmp_path):
    log = []
    result = tiny_search(tmp_path, scripted(log=log), epochs=2)
    expected = {"space": "tiny", "choices": {"a": "a-1", "b": "b-0"}}
    assert result.genotype.to_json() == expected
    assert json.loads((tmp_path / "run" / "genotype.json").read_text()) == expected
    assert [record["genotype"] for record in result.history] == [expected, expected]
    assert len(calls(log, "derive_genotype")) == 3  # at each epoch end and at the end


def test_report_distribution_is_each_epoch_s_distribution_and_entropy(tmp_path):
    result = tiny_search(tmp_path, scripted(), epochs=1)
    (record,) = result.history
    assert record["distribution"] == {"a": [0.5, 0.25, 0.25], "b": [1.0, 0.0]}
    assert record["entropy"] == pytest.approx(-(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25)))
    assert record["entropy_max"] == pytest.approx(math.log(3) + math.log(2))
    assert record["choices"] == {"a": ["a-0", "a-1", "a-2"], "b": ["b-0", "b-1"]}


# --------------------------------------------------------------------------- observer hooks


def test_epoch_finished_sees_each_history_line_once_it_is_saved(tmp_path):
    seen = []

    class Observer:
        @hookimpl
        def epoch_finished(self, record, run_dir):
            folder = Path(run_dir)
            lines = (folder / "history.jsonl").read_text().splitlines()
            saved = sorted(path.name for path in (folder / "checkpoints").glob("*.pt"))
            seen.append((record, run_dir, json.loads(lines[-1]), saved[-1]))

    hooks = load_plugins(load_entry_points=False)
    hooks.pm.register(Observer(), name="observer")
    result = tiny_search(tmp_path, scripted(), hooks, epochs=2)
    assert [record for record, *_ in seen] == result.history
    assert {run_dir for _, run_dir, *_ in seen} == {str(tmp_path / "run")}
    assert [(line["epoch"], checkpoint) for _, _, line, checkpoint in seen] == [
        (1, "epoch-0001.pt"), (2, "epoch-0002.pt")]


@pytest.mark.slow
def test_train_epoch_finished_sees_each_metrics_line(tmp_path):
    seen = []

    class Observer:
        @hookimpl
        def train_epoch_finished(self, record, out_dir):
            seen.append((dict(record), out_dir))

    hooks = load_plugins()
    hooks.pm.register(Observer(), name="observer")
    config = train_config("DARTS_V2", dataset="digits", hooks=hooks, layers=2, channels=4, epochs=2,
                          batch_size=128, auxiliary_weight=0, device="cpu")
    train_network(config, tmp_path / "train", hooks=hooks)
    lines = [json.loads(line) for line in (tmp_path / "train" / "metrics.jsonl").read_text().splitlines()]
    assert [record for record, _ in seen] == lines and [line["epoch"] for line in lines] == [1, 2]
    assert {out_dir for _, out_dir in seen} == {str(tmp_path / "train")}
