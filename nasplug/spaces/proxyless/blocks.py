"""MBConv candidates built from timm's blocks, the searchable choice block, stem and head.

ProxylessNAS's MBConv is 1×1 expand-BN-ReLU6 → depthwise k×k-BN-ReLU6 →
1×1-BN; timm's ``InvertedResidual`` builds exactly that, and its
``DepthwiseSeparableConv`` the expansion-1 form without the expand conv.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import attrs
import torch
from torch import nn

from nasplug.core.architecture import ArchitectureError, GatedChoice
from nasplug.spaces.proxyless.skeleton import BlockSpec, Layout

ZERO = "zero"
ACTIVATION = nn.ReLU6

_CANDIDATE = re.compile(r"(\d+)x(\d+)_MBConv(\d+)")


@attrs.frozen
class Candidate:
    """One MBConv variant: depthwise kernel size and expansion ratio."""

    kernel: int
    expansion: int

    @property
    def name(self) -> str:
        return f"{self.kernel}x{self.kernel}_MBConv{self.expansion}"


def parse_choice(name: str) -> Candidate | None:
    """``"5x5_MBConv3"`` → Candidate(5, 3); ``"zero"`` → None; anything else is an ArchitectureError."""
    if name == ZERO:
        return None
    match = _CANDIDATE.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        raise ArchitectureError(f"{name!r} is not a block choice (expected like '5x5_MBConv3' or 'zero')")
    height, width, expansion = (int(g) for g in match.groups())
    if height != width or height % 2 == 0 or expansion < 1:
        raise ArchitectureError(f"{name!r}: kernels must be square and odd, expansion at least 1")
    return Candidate(height, expansion)


def mbconv(candidate: Candidate, in_chs: int, out_chs: int, stride: int, skip: bool) -> nn.Module:
    """The timm block of ``candidate``; ``skip`` adds timm's identity shortcut where shapes allow."""
    # imported late, as in _conv_norm_act
    from timm.models._efficientnet_blocks import DepthwiseSeparableConv, InvertedResidual

    common = dict(dw_kernel_size=candidate.kernel, stride=stride, noskip=not skip, act_layer=ACTIVATION)
    if candidate.expansion == 1:
        return DepthwiseSeparableConv(in_chs, out_chs, **common)
    return InvertedResidual(in_chs, out_chs, exp_ratio=candidate.expansion, **common)


def stem(layout: Layout) -> nn.Module:
    """3×3 conv-BN-ReLU6 (stride 2 for ImageNet, 1 for the CIFAR stem)."""
    return _conv_norm_act()(
        layout.in_channels, layout.stem_width, 3, stride=layout.stem_stride, act_layer=ACTIVATION
    )


def first_block(layout: Layout) -> nn.Module:
    """The fixed 3×3 MBConv1 block; like ProxylessNAS it never has a shortcut."""
    return mbconv(Candidate(3, 1), layout.stem_width, layout.first_block_width, 1, skip=False)


def feature_mix(layout: Layout) -> nn.Module:
    """1×1 conv-BN-ReLU6 to the feature-mix width (1280 in MobileNetV2)."""
    last = layout.blocks[-1].out_chs if layout.blocks else layout.first_block_width
    return _conv_norm_act()(last, layout.feature_mix, 1, act_layer=ACTIVATION)


def _conv_norm_act() -> type[nn.Module]:
    """timm's ConvNormAct, imported when a network is built: importing timm takes seconds, and every
    nasplug command imports this space, most of them without building a proxyless network."""
    from timm.layers import ConvNormAct

    return ConvNormAct


class Classifier(nn.Module):
    """Global average pool, optional dropout, linear layer."""

    def __init__(self, in_features: int, num_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.linear = nn.Linear(in_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.dropout(x.mean((2, 3))))


class ChoiceBlock(nn.Module):
    """One searchable block: identity shortcut (where shapes match) plus the chosen residual branch(es).

    Candidates are timm blocks built without their own shortcut, so the block
    computes ``x + Σ_paths gate · branch(x)`` like ProxylessNAS's
    ``MobileInvertedResidualBlock`` around a ``MixedEdge``: `zero` is the empty
    branch (the block is skipped), a gate scales only its branch, and a softmax
    mixture reproduces the DARTS-style weighted sum. Only the branches named in
    the paths run.
    """

    def __init__(self, spec: BlockSpec, choices: Sequence[str], built: Iterable[str]) -> None:
        super().__init__()
        self.key = spec.key
        self.choices = tuple(choices)
        self.has_shortcut = spec.has_shortcut
        self.candidates = nn.ModuleDict()
        for name in built:
            candidate = parse_choice(name)
            if candidate is not None:
                self.candidates[name] = mbconv(candidate, spec.in_chs, spec.out_chs, spec.stride, skip=False)

    def forward(self, x: torch.Tensor, paths: Sequence[GatedChoice]) -> torch.Tensor:
        out = x if self.has_shortcut else None
        for path in paths:
            name = self._name(path.choice)
            if name == ZERO:
                if isinstance(path.gate, torch.Tensor):
                    # keeps the gate in the graph with zero gradient, as a zero op would
                    out = out + 0.0 * path.gate
                continue
            if name not in self.candidates:
                raise ArchitectureError(
                    f"{self.key}: {name} was not built into this network (built with only=)"
                )
            branch = self.candidates[name](x)
            if path.gate is not None:
                branch = branch * path.gate
            out = branch if out is None else out + branch
        if out is None:
            raise ArchitectureError(f"{self.key} has no shortcut, so it needs a choice other than zero")
        return out

    def _name(self, choice: int) -> str:
        if not 0 <= choice < len(self.choices):
            raise ArchitectureError(
                f"choice {choice} out of range for {self.key!r} ({len(self.choices)} choices)"
            )
        return self.choices[choice]
