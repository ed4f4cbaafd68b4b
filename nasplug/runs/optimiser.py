"""The weight optimiser every nasplug run uses: SGD with momentum under a per-epoch schedule.

DARTS's settings (its train_search.py and train.py share them; MdeNAS, PARSEC and EoiNAS keep them)
are written here once; the search, retraining and ranking configurations take their defaults from
:data:`DARTS_SGD`.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs
import torch


@attrs.frozen
class SgdSettings:
    """Learning rate annealed (cosine) to ``lr_min``, momentum, weight decay and gradient-norm clip."""

    lr: float = 0.025
    lr_min: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0


DARTS_SGD = SgdSettings()
"""DARTS's search optimiser: lr 0.025 cosine-annealed to 0.001, momentum 0.9, weight decay 3e-4, clip 5."""


def sgd(
    parameters: Iterable[torch.nn.Parameter], lr: float, momentum: float, weight_decay: float,
    nesterov: bool = False,
) -> torch.optim.SGD:
    return torch.optim.SGD(parameters, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov)


def cosine_schedule(optimizer: torch.optim.Optimizer, epochs: int, lr_min: float) -> torch.optim.lr_scheduler.LRScheduler:
    """Cosine annealing from the optimiser's learning rate to ``lr_min`` over ``epochs`` epochs (stepped per epoch)."""
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs, eta_min=lr_min)
