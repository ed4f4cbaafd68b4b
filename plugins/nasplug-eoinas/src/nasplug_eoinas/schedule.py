"""When things happen in an EoiNAS search: the temperature anneal and the pruning epochs."""

from __future__ import annotations


def temperature(progress: float, tau_max: float, tau_min: float) -> float:
    """Exponential anneal T = τ_max·(τ_min/τ_max)^progress: τ_max at progress 0, τ_min at 1."""
    return tau_max * (tau_min / tau_max) ** progress


def is_prune_epoch(epochs_done: int, warmup: int, interval: int) -> bool:
    """Whether the search prunes after ``epochs_done`` epochs (Alg. 1).

    The first ``warmup`` epochs train the weights only; α then learns for
    ``interval`` epochs before the first prune, and every ``interval`` epochs
    after that: the paper's 160 epochs = 20 warm-up + 7 × 20 fit the 7 prunes
    that take 8 ops down to one.
    """
    after_warmup = epochs_done - warmup
    return after_warmup > 0 and after_warmup % interval == 0
