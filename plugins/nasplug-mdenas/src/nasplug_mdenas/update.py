"""MdeNAS's distribution update (paper Eq. 3–5) as array operations over (D, M, M) tensors."""

from __future__ import annotations

import torch


def pairwise_differences(values: torch.Tensor) -> torch.Tensor:
    """(D, M) → (D, M, M) with entry [d, i, j] = values[d, i] − values[d, j] (Eq. 3 and Eq. 4)."""
    return values.unsqueeze(-1) - values.unsqueeze(-2)


def votes(times_trained: torch.Tensor, accuracy: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The bracket of Eq. 5 per op: how many ops it beats minus how many beat it.

    Op i gains one vote for every op j that was trained more yet is less
    accurate (ΔH^e_ij < 0 and ΔH^a_ij > 0) and loses one for every op j that was
    trained less yet is more accurate. Both inequalities are strict, so a tie in
    either history leaves the pair out. Padded columns (``mask`` False) take part
    in no pair. Returns int64 (D, M); each row sums to 0.
    """
    d_epochs = pairwise_differences(times_trained)
    d_accuracy = pairwise_differences(accuracy)
    pairs = mask.unsqueeze(-1) & mask.unsqueeze(-2)
    promoted = (d_epochs < 0) & (d_accuracy > 0) & pairs
    demoted = (d_epochs > 0) & (d_accuracy < 0) & pairs
    return promoted.sum(dim=-1) - demoted.sum(dim=-1)


def update_probabilities(
    probabilities: torch.Tensor,
    times_trained: torch.Tensor,
    accuracy: torch.Tensor,
    mask: torch.Tensor,
    alpha: float,
) -> torch.Tensor:
    """p ← p + α·votes (Eq. 5), then clipped at 0 and renormalised per decision.

    The votes are antisymmetric over pairs, so Eq. 5 alone keeps every row's sum
    at 1; only negative entries need repair, and clipping them before
    renormalising removes an op that keeps losing (it is no longer sampled).
    """
    updated = probabilities + alpha * votes(times_trained, accuracy, mask).to(probabilities.dtype)
    updated = updated.clamp(min=0.0) * mask
    return updated / updated.sum(dim=-1, keepdim=True)
