"""The standalone network of a genotype: plain timm blocks in sequence, nothing to search."""

from __future__ import annotations

import torch
from torch import nn

from nasplug.spaces.proxyless.blocks import Classifier, feature_mix, first_block, mbconv, parse_choice, stem
from nasplug.spaces.proxyless.genotype import ProxylessGenotype
from nasplug.spaces.proxyless.skeleton import Layout


class ProxylessNetwork(nn.Module):
    """stem → fixed MBConv1 → the genotype's blocks (zero blocks left out) → feature mix → classifier.

    Blocks carry timm's own identity shortcut where shapes match. Training mode
    returns ``(logits, None)`` (no auxiliary head), eval mode the logits.
    """

    def __init__(
        self, genotype: ProxylessGenotype, layout: Layout, num_classes: int, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.stem = stem(layout)
        self.first = first_block(layout)
        blocks = []
        for spec in layout.blocks:
            candidate = parse_choice(genotype.choice(spec.index))
            if candidate is not None:
                blocks.append(mbconv(candidate, spec.in_chs, spec.out_chs, spec.stride, skip=True))
        self.blocks = nn.Sequential(*blocks)
        self.feature_mix = feature_mix(layout)
        self.classifier = Classifier(layout.feature_mix, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, None]:
        logits = self.classifier(self.feature_mix(self.blocks(self.first(self.stem(x)))))
        return (logits, None) if self.training else logits
