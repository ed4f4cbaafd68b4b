"""When things happen in an EoiNAS search: the temperature anneal and the pruning epochs."""

from __future__ import annotations

from nasplug import Step


def temperature(progress: float, tau_max: float, tau_min: float) -> float:
    """Exponential anneal T = τ_max·(τ_min/τ_max)^progress: τ_max at progress 0, τ_min at 1."""
    return tau_max * (tau_min / tau_max) ** progress


def anneal_progress(step: Step, warmup: int) -> float:
    """How far the temperature anneal is at ``step``: 0 until α starts learning, 1 at the search's end.

    The anneal spans the epochs after the ``warmup`` epochs only (as the authors'
    code does): warm-up samples carry no gate, so a temperature spent there
    would shape no gradient.
    """
    start = warmup * step.steps_per_epoch
    span = (step.epochs - warmup) * step.steps_per_epoch
    if span <= 0:
        return 0.0
    return min(max(step.global_step - start, 0) / span, 1.0)


def is_prune_epoch(epochs_done: int, warmup: int, interval: int) -> bool:
    """Whether the search prunes after ``epochs_done`` epochs (Alg. 1).

    The first ``warmup`` epochs train the weights only; α then learns for
    ``interval`` epochs before the first prune, and every ``interval`` epochs
    after that: the paper's 160 epochs = 20 warm-up + 7 × 20 fit the 7 prunes
    that take 8 ops down to one.
    """
    after_warmup = epochs_done - warmup
    return after_warmup > 0 and after_warmup % interval == 0
