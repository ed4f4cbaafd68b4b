"""The operation-importance indicator of EoiNAS (Eq. 6–7) and the pruning it drives (Alg. 1)."""

from __future__ import annotations

import torch


def indicator(
    beta: torch.Tensor, trained: torch.Tensor, accuracy: torch.Tensor, lam: float
) -> torch.Tensor:
    """I = β + λ·C^a/C^e per op (Eq. 7), with C^a/C^e taken as 0 where C^e = 0.

    C = C^a/C^e is Eq. 6 as written: ``accuracy`` is C^a, the op's validation
    accuracy (the controller keeps the latest one, in percent), ``trained`` is
    C^e, its training iterations (the controller counts those since the last
    prune). A higher accuracy reached in fewer iterations scores higher. An op
    with no iterations has no evidence and scores β alone.
    """
    per_iteration = torch.where(trained > 0, accuracy / trained.clamp_min(1), torch.zeros_like(accuracy))
    return beta + lam * per_iteration


def prune_lowest(
    scores: torch.Tensor, alive: torch.Tensor, prunable: torch.Tensor, zero: torch.Tensor | None = None
) -> torch.Tensor:
    """The ``alive`` mask with, on every row, the prunable live op of lowest score removed (Alg. 1).

    A row keeps at least one prunable op: rows with one or none left are unchanged.
    Ties go to the lower index, so the result is deterministic. ``zero`` marks
    the zero op (DARTS's ``none``), which derivation never picks: where removing
    the lowest op would leave only zero ops alive, the prunable zero op goes
    instead (P-DARTS's last-stage rule, which the authors' code follows), so
    every row keeps an op that derivation can pick.
    """
    candidates = alive & prunable
    can_prune = candidates.sum(dim=-1) > 1
    victims = scores.masked_fill(~candidates, float("inf")).argmin(dim=-1)
    if zero is not None:
        others_alive = alive.clone()
        others_alive[torch.arange(len(alive)), victims] = False
        only_zero_left = (others_alive & ~zero).sum(dim=-1) == 0
        zero_victims = (candidates & zero).to(torch.int8).argmax(dim=-1)
        has_zero_victim = (candidates & zero).any(dim=-1)
        victims = torch.where(only_zero_left & has_zero_victim, zero_victims, victims)
    pruned = alive.clone()
    rows = torch.nonzero(can_prune).squeeze(-1)
    pruned[rows, victims[rows]] = False
    return pruned
