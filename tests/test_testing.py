"""nasplug.testing, the plugin author's kit: its parts, and the documented plugin test run for real."""

import re
from pathlib import Path

import pytest
import torch

import torch.nn.functional as F

from nasplug import Architecture, Controller, GatedChoice, hookimpl
from nasplug.controllers.random import RandomController
from nasplug.plugin import load_plugins
from nasplug.search import SearchConfig, run_search
from nasplug.testing import (
    TinySpacePlugin,
    all_architectures,
    assert_one_line_error,
    controller_hooks,
    evaluate,
    feedback,
    feedback_favouring,
    run_cli,
    run_steps,
    tiny_space,
)
from nasplug.testing.driver import BATCH_SIZE, made_logits

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_tiny_space_names_counted_choices_and_derives_by_argmax():
    space = tiny_space({"a": 3, "b": ("x", "none")}, factorisations={"slot": {"s": ("p", "q")}})
    decisions = [(d.key, d.choices) for d in space.decisions()]
    assert decisions == [("a", ("a-0", "a-1", "a-2")), ("b", ("x", "none"))]
    assert space.factorisations == ("edge", "slot") and space.decisions("slot")[0].choices == ("p", "q")
    assert space.genotype_from_scores({"a": [0, 2, 1], "b": [0, 1]}).choices == {"a": "a-1", "b": "none"}
    assert space.last_scores == {"a": [0.0, 2.0, 1.0], "b": [0.0, 1.0]}
    assert len(all_architectures(space)) == 6
    supernet = space.build_supernet()
    assert type(supernet.ops["b"][1]).__name__ == "Zero" and isinstance(supernet.ops["b"][0], torch.nn.Linear)


def test_hand_made_feedback_is_what_it_says():
    sample = Architecture.single_path({"first": 1, "second": 1, "third": 0})
    planted = feedback_favouring(sample, {"first": 1, "second": 0, "third": 0})
    assert planted.accuracy == pytest.approx(0.2 + 0.2 * 2) and planted.loss == pytest.approx(1 - 0.6)
    assert feedback_favouring(sample).accuracy == pytest.approx(0.4)  # best = choice 0 everywhere: "third"
    made = feedback(0.5, 2.0, batch_size=4)
    assert (made.accuracy, made.loss, made.log_likelihood, made.batch_size) == (0.5, 2.0, -8.0, 4)


def test_evaluate_keeps_the_graph_only_for_gates_that_need_it():
    space = tiny_space()
    supernet = space.build_supernet()
    plain = Architecture.single_path({"first": 1, "second": 0, "third": 2})
    assert evaluate(supernet, plain).loss_tensor is None
    gate = torch.tensor(1.0, requires_grad=True)
    gated = Architecture({"first": (GatedChoice(1, gate),), "second": (GatedChoice(0),),
                          "third": (GatedChoice(2),)})
    measured = evaluate(supernet, gated)
    measured.loss_tensor.backward()
    assert gate.grad is not None and measured.loss == pytest.approx(evaluate(supernet, plain).loss)


def test_tiny_space_runs_through_the_real_engine(tmp_path):
    hooks = load_plugins()
    hooks.pm.register(TinySpacePlugin({"a": 3, "b": 2}), name="tiny-space")
    config = SearchConfig(space="tiny", controller="random", epochs=1, batch_size=64, eval_derived=True,
                          device="cpu")
    result = run_search(config, tmp_path / "run", hooks=hooks)
    assert set(result.genotype.choices) == {"a", "b"} and 0 <= result.history[0]["derived_accuracy"] <= 1


class FeedbackLog:
    """An observer of record_feedback: what the engine gave, step by step."""

    def __init__(self):
        self.given = []

    @hookimpl
    def record_feedback(self, samples, feedback, step):
        self.given.append((step, [s.choices() for s in samples], list(feedback)))


def test_run_steps_drives_the_engine_on_the_given_feedback():
    space = tiny_space({"a": 3, "b": 2})
    hooks = controller_hooks(RandomController(space, {}, seed=0), "random")
    log = FeedbackLog()
    hooks.pm.register(log, name="log")
    sampled = run_steps(hooks, space, lambda sample: feedback_favouring(sample, best=1), epochs=2, steps=3, start=1)
    assert [(step.epoch, step.index, step.epochs, step.epoch_end) for step, *_ in log.given] == [
        (epoch, index, 3, index == 2) for epoch in (1, 2) for index in range(3)]
    assert sampled == [choices for _, samples, _ in log.given for choices in samples]
    for _, samples, given in log.given:
        wanted = feedback_favouring(Architecture.single_path({k: c for k, (c,) in samples[0].items()}), best=1)
        assert float(given[0].accuracy) == pytest.approx(float(wanted.accuracy))
        assert float(given[0].loss) == pytest.approx(float(wanted.loss), abs=1e-6)
        assert given[0].batch_size == BATCH_SIZE
    assert hooks.pm.get_plugin("controller:random") is not None  # the controller stays registered


def test_run_steps_needs_the_controller_s_own_space():
    hooks = controller_hooks(RandomController(tiny_space(), {}, seed=0), "random")
    with pytest.raises(ValueError, match="space its controller was built for"):
        run_steps(hooks, tiny_space(), feedback_favouring, epochs=1, steps=1)


@pytest.mark.parametrize("accuracy, loss", [(0.0, 2.0), (0.35, 0.9), (0.8, 0.2), (1.0, 0.5)])
def test_made_logits_make_the_given_loss_and_accuracy(accuracy, loss):
    labels = torch.arange(BATCH_SIZE) % 3
    logits = made_logits(feedback(accuracy, loss), labels, 3)
    assert float(F.cross_entropy(logits, labels)) == pytest.approx(loss, rel=1e-6)
    assert int((logits.argmax(1) == labels).sum()) == round(accuracy * BATCH_SIZE)


@pytest.mark.parametrize("accuracy, loss", [(0.5, 0.3), (1.0, 1.2), (1.2, 0.1)])
def test_made_logits_refuse_feedback_no_batch_gives(accuracy, loss):
    with pytest.raises(ValueError, match="no batch of 20 images"):
        made_logits(feedback(accuracy, loss), torch.arange(BATCH_SIZE) % 3, 3)


def test_run_steps_passes_the_given_loss_tensor_s_gradient_to_the_gates():
    class Gated(Controller):
        gradients = []

        @hookimpl
        def sample_architecture(self):
            self.gate = torch.tensor(1.0, requires_grad=True)
            return [Architecture({"a": (GatedChoice(1, self.gate),), "b": (GatedChoice(0),)})]

        @hookimpl
        def record_feedback(self, feedback):
            feedback[0].loss_tensor.backward()
            self.gradients.append(float(self.gate.grad))

        @hookimpl
        def derive_genotype(self, space):
            return space.genotype_from_scores({"a": [0, 1, 0], "b": [1, 0]})

    def give(sample):
        gate = sample.paths["a"][0].gate
        return feedback(0.5, 1.0, loss_tensor=3.0 * gate if torch.is_tensor(gate) and gate.requires_grad else None)

    space = tiny_space({"a": 3, "b": 2})
    controller = Gated(space, {}, seed=0)
    run_steps(controller_hooks(controller, "gated"), space, give, epochs=1, steps=2)
    assert controller.gradients == pytest.approx([3.0, 3.0], rel=1e-5)


def test_run_cli_reports_the_output_of_a_failed_command(tmp_path):
    result = run_cli("run", "--space", "darts-cell", exit_code=None)
    assert_one_line_error(result, "--space and --controller are required")
    with pytest.raises(AssertionError, match="exit 1"):
        run_cli("run", "--space", "darts-cell")


@pytest.mark.slow
def test_the_documented_plugin_test_passes_against_the_tutorial_controller(fake_dist, tmp_path):
    tutorial = (DOCS / "writing-a-controller.md").read_text()
    source = re.search(r"```python\n# nasplug_greedy/__init__.py\n(.*?)```", tutorial, re.S).group(1)
    entry = re.search(r'greedy = "(.*?)"', tutorial).group(1)
    fake_dist("nasplug-greedy", {"nasplug.controllers": {"greedy": entry}}, {"nasplug_greedy.py": source})
    plugin_test = re.search(r"```python\n# tests/test_greedy.py\n(.*?)```", tutorial, re.S).group(1)
    namespace: dict = {"__name__": "test_greedy"}
    exec(compile(plugin_test, "docs/writing-a-controller.md", "exec"), namespace)
    tests = {name: test for name, test in namespace.items() if name.startswith("test_")}
    assert len(tests) == 3
    for name, test in tests.items():
        test(tmp_path / name) if "tmp_path" in test.__code__.co_varnames else test()
