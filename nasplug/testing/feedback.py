"""Feedback for driving a controller without an engine: made by hand, or measured on a tiny batch."""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from nasplug import Architecture, DataShape, Feedback
from nasplug.testing.space import SMALL_DATA


def feedback(
    accuracy: float = 0.0,
    loss: float = 1.0,
    *,
    log_likelihood: float | None = None,
    batch_size: int = 8,
    loss_tensor: torch.Tensor | None = None,
) -> Feedback:
    """One sample's Feedback with the given values (float64 0-d tensors on the CPU, as Feedback makes of
    numbers); ``log_likelihood`` defaults to ``-loss · batch_size`` (what the engine reports: the summed
    log-likelihood of the batch)."""
    if log_likelihood is None:
        log_likelihood = -loss * batch_size
    return Feedback(loss=loss, accuracy=accuracy, log_likelihood=log_likelihood, batch_size=batch_size,
                    loss_tensor=loss_tensor)


def feedback_favouring(
    sample: Architecture, best: Mapping[str, int] | int = 0, *, base: float = 0.2, gain: float = 0.2
) -> Feedback:
    """Feedback whose accuracy is ``base + gain ·`` (decisions where ``sample`` picks ``best``).

    ``best`` is one choice index per decision key, or one index for all: a planted signal a
    controller should learn. The loss is ``1 - accuracy``.
    """
    picks = {key: index for key, (index, *_) in sample.choices().items()}
    wanted = best if isinstance(best, Mapping) else dict.fromkeys(picks, best)
    accuracy = base + gain * sum(picks[key] == wanted.get(key) for key in picks)
    return feedback(accuracy=accuracy, loss=1.0 - accuracy)


def tiny_batch(
    seed: int = 0, size: int = 8, data: DataShape = SMALL_DATA
) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded batch of random inputs of ``data``'s shape and random labels."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(size, data.in_channels, data.input_size, data.input_size, generator=generator)
    return x, torch.randint(data.num_classes, (size,), generator=generator)


def evaluate(
    supernet: nn.Module, sample: Architecture, seed: int = 0, data: DataShape = SMALL_DATA
) -> Feedback:
    """What the engine reports for ``sample`` on :func:`tiny_batch` ``(seed)``: detached 0-d tensors on the
    supernet's device (nothing waits for it), the loss keeping its graph when the sample's gates require
    grad, as in the engine."""
    device = next(supernet.parameters()).device
    x, y = (tensor.to(device) for tensor in tiny_batch(seed, data=data))
    logits = supernet(x, sample)
    loss = F.cross_entropy(logits, y)
    return Feedback(
        loss=loss.detach(),
        accuracy=(logits.detach().argmax(-1) == y).float().mean(),
        log_likelihood=-F.cross_entropy(logits.detach(), y, reduction="sum"),
        batch_size=len(y),
        loss_tensor=loss if sample.requires_grad() else None,
    )
