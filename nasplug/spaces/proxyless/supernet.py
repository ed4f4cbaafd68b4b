"""The weight-sharing supernet: every block holds its candidates, a forward runs only the chosen ones."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from nasplug.core.architecture import Architecture, ArchitectureError, Decision
from nasplug.spaces.proxyless.blocks import ChoiceBlock, Classifier, feature_mix, first_block, stem
from nasplug.spaces.proxyless.skeleton import Layout


class ProxylessSupernet(nn.Module):
    """``forward(x, arch)`` → logits, executing only the paths of ``arch`` in each block.

    Blocks the skeleton removes (fixed `zero`) have no decision and no module.
    With ``only`` given, each block holds just the candidates ``only`` names:
    the standalone child, whose parameter names are a subset of the supernet's.
    """

    def __init__(
        self,
        layout: Layout,
        decisions: Sequence[Decision],
        num_classes: int,
        only: Architecture | None = None,
    ) -> None:
        super().__init__()
        by_key = {d.key: d for d in decisions}
        if only is not None:
            only.validate(decisions)
        self.stem = stem(layout)
        self.first = first_block(layout)
        self.blocks = nn.ModuleDict()
        for spec in layout.blocks:
            decision = by_key.get(spec.key)
            if decision is None:
                continue
            if only is None:
                built = decision.choices
            else:
                built = [decision.choices[p.choice] for p in only.paths.get(spec.key, ())]
                if not built and not spec.has_shortcut:
                    raise ArchitectureError(f"only= gives {spec.key} no choice, but it has no shortcut")
            self.blocks[str(spec.index)] = ChoiceBlock(spec, decision.choices, built)
        self.decision_keys = frozenset(by_key)
        self.feature_mix = feature_mix(layout)
        self.classifier = Classifier(layout.feature_mix, num_classes)

    def forward(self, x: torch.Tensor, arch: Architecture) -> torch.Tensor:
        unknown = set(arch.paths) - self.decision_keys
        if unknown:
            raise ArchitectureError(f"unknown decision keys {', '.join(sorted(unknown))}")
        x = self.first(self.stem(x))
        for block in self.blocks.values():
            x = block(x, arch.paths.get(block.key, ()))
        return self.classifier(self.feature_mix(x))
