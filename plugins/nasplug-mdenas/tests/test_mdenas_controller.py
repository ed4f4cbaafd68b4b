"""The MdeNAS controller through the hook layer, on a space with ragged decisions."""

import io
from importlib import metadata

import pytest
import torch

from nasplug import DataShape, OptionError, Step, entropy
from nasplug import CheckpointError
from nasplug.plugin import load_plugins
from nasplug.testing import controller_hooks, feedback_favouring, run_steps, tiny_space
from nasplug_mdenas import MdeNAS


RAGGED = {"a": ("x", "y", "z"), "b": ("x", "zero"), "c": ("p", "q", "r", "s")}
"""Decisions of 3, 2 and 4 choices."""


def ragged_space():
    return tiny_space(RAGGED)


def _hooks(controller):
    return controller_hooks(controller, "mdenas")


def _run_epochs(hooks, space, epochs, steps=12, start=0):
    # Choice 0 of every decision makes a better network: a signal MdeNAS can learn.
    return run_steps(hooks, space, feedback_favouring, epochs=epochs, steps=steps, start=start)


def test_installed_distribution_provides_the_entry_point():
    entry = load_plugins().controllers()["mdenas"]
    assert entry.provider.distribution == "nasplug-mdenas"
    assert entry.load() is MdeNAS
    names = [ep.name for ep in metadata.distribution("nasplug-mdenas").entry_points]
    assert names == ["mdenas"]


def test_starts_uniform_over_each_decision_s_own_choices():
    space = ragged_space()
    report = _hooks(MdeNAS(space, {"alpha": 0.01}, seed=0)).report_distribution(space)
    assert report == {"a": [1 / 3] * 3, "b": [0.5, 0.5], "c": [0.25] * 4}


def test_samples_follow_p_and_never_the_padding():
    space = ragged_space()
    controller = MdeNAS(space, {"alpha": 0.01}, seed=3)
    controller.probabilities = torch.tensor(
        [[0.7, 0.2, 0.1, 0.0], [0.1, 0.9, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]], dtype=torch.float64
    )
    counts = torch.zeros(3, 4)
    for _ in range(2000):
        (sample,) = controller.sample_architecture()
        assert set(sample.paths) == {"a", "b", "c"} and all(p[0].gate is None for p in sample.paths.values())
        counts += controller.table.one_hot(sample)
    frequencies = counts / 2000
    assert torch.allclose(frequencies, controller.probabilities.float(), atol=0.04)


def test_histories_and_epoch_end_update():
    space = ragged_space()
    controller = MdeNAS(space, {"alpha": 0.01}, seed=1)
    hooks = _hooks(controller)
    sampled = _run_epochs(hooks, space, epochs=1, steps=12)

    expected_counts = torch.zeros(3, 4, dtype=torch.int64)
    accuracy_sum = torch.zeros(3, 4, dtype=torch.float64)
    for choices in sampled:
        zeros = sum(index == 0 for (index,) in choices.values())
        for row, (index,) in enumerate(choices.values()):
            expected_counts[row, index] += 1
            accuracy_sum[row, index] += 0.2 + 0.2 * zeros
    assert torch.equal(controller.times_trained, expected_counts)
    expected_mean = torch.where(expected_counts > 0, accuracy_sum / expected_counts.clamp(min=1), 0.0)
    assert torch.allclose(controller.accuracy, expected_mean)
    assert not controller.epoch_samples.any()
    assert not torch.equal(controller.probabilities, controller.table.uniform())
    for values in hooks.report_distribution(space).values():
        assert sum(values) == pytest.approx(1.0) and min(values) >= 0


def test_distribution_changes_only_at_epoch_end():
    space = ragged_space()
    controller = MdeNAS(space, {"alpha": 0.01}, seed=1)
    hooks = _hooks(controller)
    step = Step(0, 0, 5, 1, epoch_end=False)
    samples = hooks.sample_architecture(space, step)
    hooks.record_feedback(space, samples, [feedback_favouring(samples[0])], step)
    hooks.update_distribution(space, step)
    assert torch.equal(controller.probabilities, controller.table.uniform())
    assert controller.epoch_samples.sum() == 3


def test_learns_the_better_choice_and_derives_it():
    space = ragged_space()
    controller = MdeNAS(space, {"alpha": 0.05}, seed=0)
    hooks = _hooks(controller)
    _run_epochs(hooks, space, epochs=8, steps=20)
    report = hooks.report_distribution(space)
    assert all(values[0] == max(values) for values in report.values())
    assert hooks.derive_genotype(space).choices == {"a": "x", "b": "x", "c": "p"}


def test_frequency_derivation_picks_the_most_sampled_op_not_the_final_p():
    space = ragged_space()
    controller = MdeNAS(space, {"derive": "frequency"}, seed=0)
    hooks = _hooks(controller)
    assert hooks.derive_genotype(space) == space.genotype_from_scores(controller.table.to_mapping(
        controller.probabilities))  # before any step: the uniform p
    # By hand: "a" sampled y most, "b" zero, "c" s; the final p points elsewhere on every decision.
    controller.times_trained = torch.tensor([[2, 9, 1, 0], [3, 8, 0, 0], [1, 1, 2, 7]])
    controller.probabilities = torch.tensor([[0.5, 0.2, 0.3, 0.0], [0.9, 0.1, 0.0, 0.0],
                                             [0.7, 0.1, 0.1, 0.1]], dtype=torch.float64)
    assert hooks.derive_genotype(space).choices == {"a": "y", "b": "zero", "c": "s"}
    controller.config = {**controller.config, "derive": "probability"}
    assert hooks.derive_genotype(space).choices == {"a": "x", "b": "x", "c": "p"}


def test_resume_from_a_checkpoint_continues_exactly():
    space = ragged_space()
    uninterrupted = MdeNAS(space, {"alpha": 0.02}, seed=7)
    hooks = _hooks(uninterrupted)
    _run_epochs(hooks, space, epochs=2)
    buffer = io.BytesIO()
    torch.save(uninterrupted.state_dict(), buffer)
    buffer.seek(0)
    resumed = MdeNAS(space, {"alpha": 0.02}, seed=999)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))

    expected = _run_epochs(hooks, space, epochs=2, start=2)
    got = _run_epochs(_hooks(resumed), space, epochs=2, start=2)
    assert got == expected
    for name, value in uninterrupted.state_dict().items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, resumed.state_dict()[name]), name


def test_state_of_another_space_is_refused():
    space = ragged_space()
    state = MdeNAS(space, {"alpha": 0.01}, seed=0).state_dict()
    state["keys"] = ["a", "b", "other"]
    with pytest.raises(CheckpointError, match="different keys"):
        MdeNAS(space, {"alpha": 0.01}, seed=0).load_state_dict(state)
    del state["accuracy"]
    state["keys"] = ["a", "b", "c"]
    with pytest.raises(CheckpointError, match="'accuracy' is missing"):
        MdeNAS(space, {"alpha": 0.01}, seed=0).load_state_dict(state)


def test_non_positive_alpha_is_an_option_error():
    with pytest.raises(OptionError, match="alpha"):
        MdeNAS(ragged_space(), {"alpha": 0.0}, seed=0)


@pytest.mark.parametrize("name", ["darts-cell", "proxyless-mbv2"])
def test_every_built_in_space_works_unchanged(name):
    hooks = load_plugins()
    space = hooks.build_space(name, DataShape(10, 3, 16), {})
    controller = MdeNAS(space, {"alpha": 0.05}, seed=0)
    hooks.add_controller(controller, "mdenas")
    decisions = space.decisions()
    # Accuracy 0.1 to 0.9 over the many decisions, so that a batch of the engine can have it.
    gain = 0.8 / len(decisions)
    run_steps(hooks, space, lambda sample: feedback_favouring(sample, base=0.1, gain=gain), epochs=3, steps=10)

    report = hooks.report_distribution(space)
    assert list(report) == [d.key for d in decisions]
    assert [len(values) for values in report.values()] == [len(d) for d in decisions]
    assert entropy(report) < entropy({d.key: [1 / len(d)] * len(d) for d in decisions})
    genotype = hooks.derive_genotype(space)
    assert space.parse_genotype(genotype.to_json(), "derived") == genotype
    space.architecture_from_genotype(genotype).validate(decisions)
