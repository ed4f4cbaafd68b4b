"""The DARTS candidate operations and the cell-input preprocessing (DESIGN §6).

Every op maps ``channels`` to ``channels``; ``stride`` 2 is used on the edges
from the two cell inputs of a reduction cell. ``affine`` is False in the search
network (DARTS keeps BN parameter-free while ops compete) and True in the
evaluation network.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from nasplug.spaces.darts_cell.depthwise import DepthwiseConv2d

PRIMITIVES = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
"""The 8 choices of an edge, in the DARTS order (indices of every score table)."""

OPERATIONS = PRIMITIVES[1:]
"""The ops that compute something; ``none`` is the absence of an edge and has no module."""

POOLS = frozenset({"max_pool_3x3", "avg_pool_3x3"})


class ReLUConvBN(nn.Sequential):
    """ReLU → k×k conv → BN: the 1×1 preprocessing of cell inputs."""

    def __init__(
        self, c_in: int, c_out: int, kernel_size: int, stride: int, padding: int, affine: bool
    ) -> None:
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )


class DilConv(nn.Sequential):
    """ReLU → depthwise k×k (dilated) conv → 1×1 conv → BN."""

    def __init__(
        self, c_in: int, c_out: int, kernel_size: int, stride: int, padding: int, dilation: int, affine: bool
    ) -> None:
        super().__init__(
            nn.ReLU(),
            DepthwiseConv2d(c_in, kernel_size, stride, padding, dilation),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )


class SepConv(nn.Sequential):
    """Two undilated :class:`DilConv` blocks; the stride applies to the first only."""

    def __init__(
        self, c_in: int, c_out: int, kernel_size: int, stride: int, padding: int, affine: bool
    ) -> None:
        super().__init__(
            DilConv(c_in, c_in, kernel_size, stride, padding, 1, affine),
            DilConv(c_in, c_out, kernel_size, 1, padding, 1, affine),
        )


class FactorizedReduce(nn.Module):
    """Halve the resolution without losing every other pixel.

    ReLU, then two 1×1 stride-2 convs (the second on the input shifted by one
    pixel) whose outputs are concatenated, then BN. The shifted input is padded
    back to full size, which is exactly DARTS for even sizes and also works for
    odd ones (e.g. 7×7 maps of 28×28 inputs).
    """

    def __init__(self, c_in: int, c_out: int, affine: bool) -> None:
        super().__init__()
        self.relu = nn.ReLU()
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out - c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = F.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))


OpFactory = Callable[[int, int, bool], nn.Module]

OPS: dict[str, OpFactory] = {
    "max_pool_3x3": lambda c, stride, affine: nn.MaxPool2d(3, stride, 1),
    "avg_pool_3x3": lambda c, stride, affine: nn.AvgPool2d(3, stride, 1, count_include_pad=False),
    "skip_connect": lambda c, stride, affine: (
        nn.Identity() if stride == 1 else FactorizedReduce(c, c, affine)
    ),
    "sep_conv_3x3": lambda c, stride, affine: SepConv(c, c, 3, stride, 1, affine),
    "sep_conv_5x5": lambda c, stride, affine: SepConv(c, c, 5, stride, 2, affine),
    "dil_conv_3x3": lambda c, stride, affine: DilConv(c, c, 3, stride, 2, 2, affine),
    "dil_conv_5x5": lambda c, stride, affine: DilConv(c, c, 5, stride, 4, 2, affine),
}
"""Op name → constructor ``(channels, stride, affine)``; ``none`` has no entry."""


def search_op(name: str, channels: int, stride: int) -> nn.Module:
    """An op of the search network: affine-free BN, and pools followed by BN(affine=False) as in DARTS."""
    op = OPS[name](channels, stride, False)
    if name in POOLS:
        return nn.Sequential(op, nn.BatchNorm2d(channels, affine=False))
    return op
