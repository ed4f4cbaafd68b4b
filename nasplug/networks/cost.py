"""Counting a network's parameters and multiply-adds, the way papers report them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from nasplug.core.space import DataShape


@attrs.frozen
class ModelCost:
    """Parameters (auxiliary head excluded, as the papers count) and multiply-adds of one forward."""

    parameters: int
    auxiliary_parameters: int
    macs: int
    input_size: int

    def to_json(self) -> dict[str, int]:
        return attrs.asdict(self)


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(main, auxiliary) parameter counts; auxiliary heads live under a submodule named ``auxiliary``."""
    main = auxiliary = 0
    for name, parameter in model.named_parameters():
        if name == "auxiliary" or name.startswith("auxiliary.") or ".auxiliary." in name:
            auxiliary += parameter.numel()
        else:
            main += parameter.numel()
    return main, auxiliary


def count_macs(model: nn.Module, data: DataShape, forward: Callable[[torch.Tensor], Any] | None = None) -> int:
    """Multiply-adds of one eval-mode forward of a single image, by torch's own flop counter.

    The counter reports 2 FLOPs per multiply-add of convolutions and matrix
    products; normalisation, activations and pooling are not counted, as in the
    papers' tables. ``forward`` runs the image where ``model(x)`` is not the call
    (a supernet's child: ``lambda x: child(x, architecture)``).
    """
    was_training = model.training
    model.eval()
    parameter = next(model.parameters())
    x = torch.zeros(1, data.in_channels, data.input_size, data.input_size, device=parameter.device)
    counter = FlopCounterMode(display=False)
    try:
        with torch.no_grad(), counter:
            (forward or model)(x)
    finally:
        model.train(was_training)
    return counter.get_total_flops() // 2


def model_cost(model: nn.Module, data: DataShape) -> ModelCost:
    main, auxiliary = count_parameters(model)
    return ModelCost(main, auxiliary, count_macs(model, data), data.input_size)
