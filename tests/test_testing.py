"""nasplug.testing, the plugin author's kit: its parts, and the documented plugin test run for real."""

import re
from pathlib import Path

import pytest
import torch

from nasplug import Architecture, Path as ChoicePath
from nasplug.plugin.manager import load_plugins
from nasplug.search.engine import SearchConfig, run_search
from nasplug.testing import (
    TinySpacePlugin,
    all_architectures,
    assert_one_line_error,
    evaluate,
    feedback,
    feedback_favouring,
    run_cli,
    tiny_space,
)

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
    gated = Architecture({"first": (ChoicePath(1, gate),), "second": (ChoicePath(0),),
                          "third": (ChoicePath(2),)})
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
