"""The NAS-Bench-201 operations and the residual block between stages (Dong & Yang, ICLR 2020, §2.1).

Every cell op maps ``channels`` to ``channels`` at stride 1. A standalone network (the benchmark's
trained networks) uses ordinary BN. In the search network the cell ops' BN keeps no running
statistics (each sampled path is normalised with its own batch's, the paper's §5 setting for its
weight-sharing runs) and learns no affine transform while ops compete (``affine=False``, as in DARTS);
the stem, the residual blocks and the last BN are ordinary, as in the authors' search networks.
"""

from __future__ import annotations

import torch
from torch import nn

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
"""The five choices of an edge, in the benchmark's order (the indices of every score table)."""


def batch_norm(channels: int, search: bool = False) -> nn.BatchNorm2d:
    """Ordinary BN, or a search-network cell op's: batch statistics only, no affine transform."""
    return nn.BatchNorm2d(channels, affine=not search, track_running_stats=not search)


class ReLUConvBN(nn.Sequential):
    """ReLU → k×k conv (no bias) → BN: ``nor_conv_1x1`` and ``nor_conv_3x3``."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int, search: bool = False) -> None:
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=kernel_size // 2, bias=False),
            batch_norm(c_out, search),
        )


def cell_op(name: str, channels: int, search: bool) -> nn.Module | None:
    """The module of op ``name``; None for ``none`` (the edge is absent and costs nothing)."""
    if name == "none":
        return None
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1, search)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1, search)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown NAS-Bench-201 op {name!r}; ops: {', '.join(OPS)}")


class ResidualReduction(nn.Module):
    """The block between stages: a stride-2 basic residual block that doubles the channels.

    Main path ReLU-Conv3×3(stride 2)-BN → ReLU-Conv3×3-BN; shortcut 2×2 average pooling then a
    1×1 conv (no BN), as in the benchmark's macro skeleton (paper Fig. 1).
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1)
        self.shortcut = nn.Sequential(
            nn.AvgPool2d(2, stride=2),
            nn.Conv2d(c_in, c_out, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_b(self.conv_a(x)) + self.shortcut(x)
