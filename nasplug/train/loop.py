"""The training loop every standalone network shares: one epoch of SGD, and a test pass.

``nasplug train`` trains a genotype's network with it and the ranking experiment (nasplug.train.ranking)
trains each sampled child with it. Sums stay on the device: no host synchronisation per step unless
a live progress line shows them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from nasplug.runs.device import Precision
from nasplug.runs.progress import Progress

TOP_K = 5

Forward = Callable[[torch.Tensor], Any]
"""A network's forward on a batch of images: logits, or (logits, auxiliary logits) in training mode."""


def training_loss(
    output: torch.Tensor | tuple[torch.Tensor, torch.Tensor | None],
    target: torch.Tensor,
    auxiliary_weight: float,
    label_smoothing: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, logits) of a training-mode forward: CE(logits) + auxiliary_weight · CE(aux_logits) (DARTS)."""
    logits, aux_logits = output if isinstance(output, tuple) else (output, None)
    loss = F.cross_entropy(logits, target, label_smoothing=label_smoothing)
    if auxiliary_weight > 0 and aux_logits is not None:
        loss = loss + auxiliary_weight * F.cross_entropy(aux_logits, target, label_smoothing=label_smoothing)
    return loss, logits


def top_k_correct(logits: torch.Tensor, target: torch.Tensor, k: int) -> torch.Tensor:
    """How many targets are among the ``k`` highest logits (k capped at the number of classes)."""
    top = logits.topk(min(k, logits.shape[1]), dim=1).indices
    return (top == target[:, None]).any(dim=1).sum()


def train_epoch(
    model: nn.Module,
    batches: Iterable[Any],
    optimizer: torch.optim.Optimizer,
    precision: Precision,
    *,
    grad_clip: float,
    forward: Forward | None = None,
    auxiliary_weight: float = 0.0,
    label_smoothing: float = 0.0,
    progress: Progress | None = None,
) -> dict[str, float]:
    """One pass of SGD over ``batches`` in training mode; the mean training loss and top-1.

    ``forward`` runs the network on a batch (default: ``model`` itself; a supernet's child passes
    its architecture). Gradients are clipped to norm ``grad_clip`` where it is positive.
    """
    run = forward or model
    model.train()
    loss_sum = torch.zeros((), dtype=torch.float64, device=precision.device)
    correct = torch.zeros((), dtype=torch.float64, device=precision.device)
    seen = 0
    for batch in batches:
        x, y = precision.batch(batch)
        optimizer.zero_grad(set_to_none=True)
        with precision.autocast():
            loss, logits = training_loss(run(x), y, auxiliary_weight, label_smoothing)
        loss.backward()
        if grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        loss_sum += loss.detach() * len(y)
        correct += top_k_correct(logits.detach(), y, 1)
        seen += len(y)
        if progress is not None and progress.live:
            progress.step({"loss": float(loss_sum) / seen, "top1": float(correct) / seen})
    return {"train_loss": float(loss_sum) / seen, "train_top1": float(correct) / seen}


@torch.no_grad()
def evaluate(
    model: nn.Module, batches: Iterable[Any], precision: Precision, forward: Forward | None = None
) -> dict[str, float]:
    """Loss, top-1 and top-5 over ``batches`` in eval mode (no drop-path, running BN statistics)."""
    run = forward or model
    model.eval()
    totals = torch.zeros(3, dtype=torch.float64, device=precision.device)
    seen = 0
    for batch in batches:
        x, y = precision.batch(batch)
        with precision.autocast():
            logits = run(x)
        totals[0] += F.cross_entropy(logits.float(), y, reduction="sum")
        totals[1] += top_k_correct(logits, y, 1)
        totals[2] += top_k_correct(logits, y, TOP_K)
        seen += len(y)
    loss, top1, top5 = (float(value) / seen for value in totals)
    return {"test_loss": loss, "test_top1": top1, "test_top5": top5}
