"""The operation-importance indicator of EoiNAS (Eq. 6–7) and the pruning it drives (Alg. 1)."""

from __future__ import annotations

import torch


def indicator(
    beta: torch.Tensor, trained: torch.Tensor, accuracy: torch.Tensor, lam: float
) -> torch.Tensor:
    """I = β + λ·C^a/C^e per op (Eq. 7), with C^a/C^e taken as 0 where C^e = 0.

    ``trained`` is C^e, the training iterations of each op; ``accuracy`` is
    C^a, the sum of the validation accuracies measured when the op was sampled,
    so C^a/C^e is the op's mean validation accuracy per training iteration
    (Eq. 6). An op that was never trained has no evidence and scores β alone.
    """
    per_iteration = torch.where(trained > 0, accuracy / trained.clamp_min(1), torch.zeros_like(accuracy))
    return beta + lam * per_iteration


def prune_lowest(scores: torch.Tensor, alive: torch.Tensor, prunable: torch.Tensor) -> torch.Tensor:
    """The ``alive`` mask with, on every row, the prunable live op of lowest score removed (Alg. 1).

    A row keeps at least one prunable op: rows with one or none left are unchanged.
    Ties go to the lower index, so the result is deterministic.
    """
    candidates = alive & prunable
    can_prune = candidates.sum(dim=-1) > 1
    victims = scores.masked_fill(~candidates, float("inf")).argmin(dim=-1)
    pruned = alive.clone()
    rows = torch.nonzero(can_prune).squeeze(-1)
    pruned[rows, victims[rows]] = False
    return pruned
