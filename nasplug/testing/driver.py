"""Drive a controller through its hooks in the engine's order, without an engine (DESIGN §5 step loop)."""

from __future__ import annotations

from collections.abc import Callable

from nasplug import Architecture, Feedback, SearchSpace, Step
from nasplug.core.controller import Controller
from nasplug.plugin.manager import Hooks, load_plugins


def controller_hooks(controller: Controller, name: str = "controller") -> Hooks:
    """The built-in plugins (no entry points) plus ``controller``, as the engine registers it for a run."""
    hooks = load_plugins(load_entry_points=False)
    hooks.add_controller(controller, name)
    return hooks


def run_steps(
    hooks: Hooks,
    space: SearchSpace,
    give: Callable[[Architecture], Feedback],
    *,
    epochs: int,
    steps: int,
    start: int = 0,
) -> list[dict[str, tuple[int, ...]]]:
    """Epochs ``start`` … ``start + epochs - 1`` of ``steps`` steps each; ``give(sample)`` is its feedback.

    Per step: sample, record the feedback, weight the samples, update the distribution (the engine
    trains the weights between the last two). Returns the choices of every sample, in order.
    """
    sampled = []
    total = start + epochs
    for epoch in range(start, total):
        for index in range(steps):
            step = Step(epoch, index, steps, total, epoch_end=index == steps - 1)
            samples = hooks.sample_architecture(space, step)
            given = [give(sample) for sample in samples]
            hooks.record_feedback(space, samples, given, step)
            hooks.sample_weights(space, samples, given, step)
            hooks.update_distribution(space, step)
            sampled += [sample.choices() for sample in samples]
    return sampled
