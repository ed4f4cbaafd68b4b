"""The evaluation network of a genotype: DARTS NetworkCIFAR / NetworkImageNet as a plain ``nn.Module``.

Both stack ``layers`` cells of the genotype (reductions at 1/3 and 2/3 of the
depth unless given, channels doubling there) and differ only in the stem. An auxiliary
classifier (weight 0.4 in training) reads the output of the cell at 2/3 depth.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from nasplug.spaces.darts_cell.cell import reduced, reduction_layers
from nasplug.spaces.darts_cell.genotypes import ENTRIES_PER_NODE, DartsGenotype
from nasplug.spaces.darts_cell.ops import OPS, FactorizedReduce, ReLUConvBN

AUX_POOL = 5


def drop_path(x: torch.Tensor, prob: float) -> torch.Tensor:
    """Zero whole samples with probability ``prob`` and rescale the rest (DARTS drop-path)."""
    keep = 1.0 - prob
    mask = x.new_empty(x.shape[0], 1, 1, 1).bernoulli_(keep)
    return x * mask / keep


class Cell(nn.Module):
    """One cell of a genotype; each entry is its own op, applied to the state it names."""

    def __init__(
        self,
        genes: Sequence[tuple[str, int]],
        concat: Sequence[int],
        c_prev_prev: int,
        c_prev: int,
        channels: int,
        reduction: bool,
        reduction_prev: bool,
    ) -> None:
        super().__init__()
        if reduction_prev:
            self.preprocess0: nn.Module = FactorizedReduce(c_prev_prev, channels, affine=True)
        else:
            self.preprocess0 = ReLUConvBN(c_prev_prev, channels, 1, 1, 0, affine=True)
        self.preprocess1 = ReLUConvBN(c_prev, channels, 1, 1, 0, affine=True)
        self.ops = nn.ModuleList(
            OPS[name](channels, 2 if reduction and source < 2 else 1, True) for name, source in genes
        )
        self.sources = tuple(source for _, source in genes)
        self.concat = tuple(concat)
        self.multiplier = len(self.concat)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for first in range(0, len(self.ops), ENTRIES_PER_NODE):
            total = None
            for position in range(first, first + ENTRIES_PER_NODE):
                op = self.ops[position]
                out = op(states[self.sources[position]])
                if self.training and drop_prob > 0 and not isinstance(op, nn.Identity):
                    out = drop_path(out, drop_prob)
                total = out if total is None else total + out
            states.append(total)
        return torch.cat([states[node] for node in self.concat], dim=1)


class AuxiliaryHead(nn.Module):
    """DARTS auxiliary classifier: ReLU, 5×5 avg pool, 1×1 conv → 128, 2×2 conv → 768, linear.

    The pool (stride 3 for CIFAR's 8×8 maps, 2 for ImageNet's 7×7) is skipped
    when the map is too small for it to leave the 2×2 the last conv needs
    (e.g. digits, whose maps are 2×2 there); a final global average makes the
    head independent of the input size (a no-op at the published sizes).
    """

    def __init__(self, channels: int, num_classes: int, feature_size: int, pool_stride: int) -> None:
        super().__init__()
        pooled = (feature_size - AUX_POOL) // pool_stride + 1
        pool = (
            nn.AvgPool2d(AUX_POOL, stride=pool_stride, count_include_pad=False)
            if pooled >= 2
            else nn.Identity()
        )
        self.features = nn.Sequential(
            nn.ReLU(),
            pool,
            nn.Conv2d(channels, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


class CifarStem(nn.Module):
    """3×3 conv → 3C, BN; both first cell inputs are its output."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.bn(self.conv(x))
        return s, s


def quarter_stem(in_channels: int, channels: int) -> nn.Sequential:
    """Two stride-2 3×3 convs (→ C/2 → C): the input at 1/4 resolution, the ImageNet stems' first part."""
    return nn.Sequential(
        nn.Conv2d(in_channels, channels // 2, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(channels // 2),
        nn.ReLU(),
        nn.Conv2d(channels // 2, channels, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(channels),
    )


class ImageNetStem(nn.Module):
    """Two stride-2 3×3 convs (→ C/2 → C) give s0; one more stride-2 conv gives s1 (1/8 resolution)."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.stem0 = quarter_stem(in_channels, channels)
        self.stem1 = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s0 = self.stem0(x)
        return s0, self.stem1(s0)


class MobileStem(nn.Module):
    """Two stride-2 3×3 convs (→ C/2 → C), MdeNAS's ImageNet transfer (§5.4): both cell inputs at 1/4."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.convs = quarter_stem(in_channels, channels)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.convs(x)
        return s, s


class EvalNetwork(nn.Module):
    """The network of a genotype, trained from scratch.

    Training mode returns ``(logits, aux_logits)`` (``aux_logits`` None without
    an auxiliary head); eval mode returns logits. ``drop_path_prob`` is read at
    every forward, so a trainer can ramp it.
    """

    def __init__(
        self,
        genotype: DartsGenotype,
        in_channels: int,
        num_classes: int,
        input_size: int,
        layers: int,
        channels: int,
        auxiliary: bool,
        drop_path_prob: float,
        stem: str,
        reductions: frozenset[int] | None = None,
    ) -> None:
        super().__init__()
        self.drop_path_prob = drop_path_prob
        imagenet_stem = stem in ("imagenet", "mobile")
        if stem == "imagenet":
            self.stem: nn.Module = ImageNetStem(in_channels, channels)
            c_prev_prev = c_prev = channels
            reduction_prev = True
            size = reduced(reduced(reduced(input_size)))
        elif stem == "mobile":
            self.stem = MobileStem(in_channels, channels)
            c_prev_prev = c_prev = channels
            reduction_prev = False
            size = reduced(reduced(input_size))
        else:
            self.stem = CifarStem(in_channels, 3 * channels)
            c_prev_prev = c_prev = 3 * channels
            reduction_prev = False
            size = input_size
        self.auxiliary_position = 2 * layers // 3
        self.auxiliary: AuxiliaryHead | None = None
        if reductions is None:
            reductions = reduction_layers(layers)
        c_curr = channels
        self.cells = nn.ModuleList()
        for index in range(layers):
            reduction = index in reductions
            if reduction:
                c_curr *= 2
                size = reduced(size)
            genes, concat = genotype.cell("reduce" if reduction else "normal")
            cell = Cell(genes, concat, c_prev_prev, c_prev, c_curr, reduction, reduction_prev)
            self.cells.append(cell)
            reduction_prev = reduction
            c_prev_prev, c_prev = c_prev, cell.multiplier * c_curr
            if index == self.auxiliary_position and auxiliary and size >= 2:
                self.auxiliary = AuxiliaryHead(
                    c_prev, num_classes, size, pool_stride=2 if imagenet_stem else 3
                )
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor | None]:
        s0, s1 = self.stem(x)
        aux_logits = None
        for index, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if index == self.auxiliary_position and self.auxiliary is not None and self.training:
                aux_logits = self.auxiliary(s1)
        logits = self.classifier(self.global_pool(s1).flatten(1))
        return (logits, aux_logits) if self.training else logits
