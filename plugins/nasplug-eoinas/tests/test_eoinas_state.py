"""EoiNAS checkpoints: a restored controller continues exactly; a foreign state is a clear error."""

from __future__ import annotations

import io

import pytest
import torch

from nasplug import Decision, Step
from nasplug import CheckpointError
from nasplug.core.options import resolve_options
from nasplug.testing import evaluate, tiny_space
from nasplug_eoinas import EoiNAS


def make(space, **given) -> EoiNAS:
    return EoiNAS(space, resolve_options(EoiNAS.options, given, "eoinas"), 0)


def run_steps(controller: EoiNAS, space, supernet, epochs: range, steps: int = 3, total: int = 6) -> list:
    drawn = []
    for epoch in epochs:
        for index in range(steps):
            step = Step(epoch, index, steps, total, epoch_end=index == steps - 1)
            [sample] = controller.sample_architecture(space, step)
            controller.record_feedback(space, [sample], [evaluate(supernet, sample, seed=index)], step)
            controller.update_distribution(space, step)
            drawn.append(sample.choices())
    return drawn


def round_trip(state: dict) -> dict:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def test_restored_controller_continues_exactly():
    space = tiny_space()
    supernet = space.build_supernet()
    options = dict(warmup=1, interval=1, arch_lr=0.05)
    original = make(space, **options)
    run_steps(original, space, supernet, range(3))
    assert original.alive.sum() < make(space).alive.sum()  # the state includes a prune
    restored = make(space, **options)
    restored.load_state_dict(round_trip(original.state_dict()))

    later = range(3, 6)
    assert run_steps(original, space, supernet, later) == run_steps(restored, space, supernet, later)
    assert torch.equal(original.alpha, restored.alpha)
    assert torch.equal(original.alive, restored.alive)
    assert torch.equal(original.trained, restored.trained)
    assert torch.equal(original.accuracy, restored.accuracy)


def test_state_of_another_space_is_a_clear_error():
    space = tiny_space()
    state = make(space).state_dict()
    other = tiny_space()
    other.decisions = lambda factorisation="edge": (Decision("only", ("x", "y")),)
    with pytest.raises(CheckpointError, match="'alpha' has shape"):
        make(other).load_state_dict(state)
    with pytest.raises(CheckpointError, match="no 'alive'"):
        make(space).load_state_dict({k: v for k, v in state.items() if k != "alive"})


def test_a_state_from_before_eq6_resumes_with_the_mean_reading_and_tau_min_0_1():
    # The state the code wrote before the indicator option: no "indicator", no "tau_min". Its run read
    # C^a/C^e as the mean and annealed to 0.1; the resumed controller keeps both, whatever the defaults now.
    space = tiny_space()
    older = {k: v for k, v in make(space, indicator="mean", tau_min=0.1).state_dict().items()
             if k not in ("indicator", "tau_min")}
    resumed = make(space)
    resumed.load_state_dict(older)
    assert (resumed.config["indicator"], resumed.config["tau_min"]) == ("mean", 0.1)
    chosen = make(space, tau_min=0.2)  # a tau_min the run chose stays
    chosen.load_state_dict(older)
    assert (chosen.config["indicator"], chosen.config["tau_min"]) == ("mean", 0.2)
    current = make(space, indicator="mean", tau_min=0.05).state_dict()
    other = make(space)
    other.load_state_dict(current)  # a current state says its own reading
    assert (other.config["indicator"], other.config["tau_min"]) == ("mean", 0.05)
