"""ProxylessSpace: ProxylessNAS's MobileNetV2 block space as a nasplug :class:`SearchSpace`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from torch import nn

from nasplug.core.architecture import Architecture, ArchitectureError, Decision
from nasplug.core.options import Option, OptionError, resolve_options
from nasplug.core.space import DataShape, Genotype, SearchSpace
from nasplug.spaces.proxyless.blocks import ZERO, Candidate
from nasplug.spaces.proxyless.genotype import SPACE_NAME, ProxylessGenotype
from nasplug.spaces.proxyless.network import ProxylessNetwork
from nasplug.spaces.proxyless.published import PUBLISHED
from nasplug.spaces.proxyless.skeleton import SKELETONS, Layout, Skeleton, block_layout
from nasplug.spaces.proxyless.supernet import ProxylessSupernet

CIFAR_STEM_BELOW = 64
"""``stem=auto`` picks the CIFAR stem for inputs smaller than this."""

_STEM = Option(
    str, "auto",
    f"imagenet: stride-2 stem, 32× downsampling; cifar: stride-1 stem and first stage, 8×; "
    f"auto: cifar below {CIFAR_STEM_BELOW} pixels",
    choices=("auto", "imagenet", "cifar"),
)
_WIDTH_MULT = Option(float, 1.0, "width multiplier (widths rounded to multiples of 8)")


class ProxylessSpace(SearchSpace):
    """One categorical per MobileNetV2 block: an MBConv variant (kernel × expansion) or `zero`."""

    name = SPACE_NAME
    description = "ProxylessNAS MobileNetV2 blocks (21 × MBConv {3,5,7}×{3,6} or zero)"
    default_dataset = "imagenet"
    options = {
        "width_mult": _WIDTH_MULT,
        "skeleton": Option(
            str, "mobilenetv2",
            "widths (and, for a published net, its removed blocks): " + ", ".join(SKELETONS),
            choices=tuple(SKELETONS),
        ),
        "kernels": Option(str, "3,5,7", "depthwise kernel sizes of the candidates (odd)"),
        "expansions": Option(str, "3,6", "expansion ratios of the candidates (1 = no expand conv)"),
        "allow_zero": Option(bool, True, "offer `zero` (skip the block) where stride is 1 and widths match"),
        "stem": _STEM,
    }
    network_options = {
        "width_mult": _WIDTH_MULT,
        "stem": _STEM,
        "dropout": Option(float, 0.0, "dropout before the classifier"),
    }
    factorisations = ("edge",)

    def __init__(self, data: DataShape, options: Mapping[str, Any]) -> None:
        super().__init__(data, resolve_options(self.options, options, f"space {self.name!r}"))
        _check_width_mult(self.config["width_mult"])
        kernels = _int_list(self.config["kernels"], "kernels", odd=True)
        expansions = _int_list(self.config["expansions"], "expansions", odd=False)
        self.candidates = tuple(Candidate(k, e).name for k in kernels for e in expansions)
        self.skeleton: Skeleton = SKELETONS[self.config["skeleton"]]
        published = PUBLISHED.get(self.config["skeleton"])
        # a published net's skeleton keeps its depth: the blocks it removed stay removed
        self.removed = frozenset(published.zero_blocks() if published else ())
        self.layout: Layout = self._layout(self.skeleton, self.config["width_mult"], self.config["stem"])
        self._decisions = tuple(
            Decision(
                spec.key,
                self.candidates + ((ZERO,) if self.config["allow_zero"] and spec.zero_allowed else ()),
            )
            for spec in self.layout.blocks
            if spec.index not in self.removed
        )

    def _layout(self, skeleton: Skeleton, width_mult: float, stem: str) -> Layout:
        if stem == "auto":
            stem = "cifar" if self.data.input_size < CIFAR_STEM_BELOW else "imagenet"
        return block_layout(skeleton, width_mult, stem == "cifar", self.data.in_channels)

    def decisions(self, factorisation: str = "edge") -> tuple[Decision, ...]:
        if factorisation not in self.factorisations:
            raise ArchitectureError(
                f"space {self.name!r} has no factorisation {factorisation!r}; it offers edge"
            )
        return self._decisions

    def build_supernet(self, only: Architecture | None = None) -> nn.Module:
        return ProxylessSupernet(self.layout, self._decisions, self.data.num_classes, only)

    def genotype_from_scores(self, scores: Mapping[str, Sequence[float]]) -> ProxylessGenotype:
        """Argmax per block; removed blocks are `zero`. Every decision needs a full score row."""
        by_key = {d.key: d for d in self._decisions}
        unknown = sorted(set(scores) - set(by_key))
        if unknown:
            raise ArchitectureError(f"score table has unknown decisions: {', '.join(unknown)}")
        blocks = []
        for index in range(1, self.skeleton.num_blocks + 1):
            decision = by_key.get(f"block {index}")
            if decision is None:
                blocks.append(ZERO)
                continue
            row = scores.get(decision.key)
            if row is None or len(row) != len(decision):
                got = "none" if row is None else len(row)
                raise ArchitectureError(
                    f"score table: {decision.key!r} needs {len(decision)} scores, got {got}"
                )
            best = max(range(len(row)), key=lambda i: row[i])
            blocks.append(decision.choices[best])
        return ProxylessGenotype(self.skeleton, blocks)

    def architecture_from_genotype(self, genotype: Genotype) -> Architecture:
        genotype = _proxyless_genotype(genotype)
        if attrs.evolve(genotype.skeleton, name="") != attrs.evolve(self.skeleton, name=""):
            raise ArchitectureError(
                f"genotype skeleton {genotype.skeleton.name or 'custom'} differs from the space's "
                f"{self.skeleton.name}"
            )
        names = {}
        for index in range(1, self.skeleton.num_blocks + 1):
            choice = genotype.choice(index)
            if index in self.removed:
                if choice != ZERO:
                    raise ArchitectureError(f"block {index} is removed by skeleton {self.skeleton.name}")
            else:
                names[f"block {index}"] = choice
        return Architecture.from_names(self._decisions, names)

    @classmethod
    def parse_genotype(cls, data: Mapping[str, Any], source: str) -> ProxylessGenotype:
        return ProxylessGenotype.from_json(data, source)

    @classmethod
    def published_genotypes(cls) -> Mapping[str, ProxylessGenotype]:
        return dict(PUBLISHED)

    def build_network(self, genotype: Genotype, options: Mapping[str, Any]) -> nn.Module:
        genotype = _proxyless_genotype(genotype)
        config = resolve_options(self.network_options, options, f"network of space {self.name!r}")
        _check_width_mult(config["width_mult"])
        if not 0.0 <= config["dropout"] < 1.0:
            raise OptionError(f"option 'dropout' must be in [0, 1), got {config['dropout']}")
        layout = self._layout(genotype.skeleton, config["width_mult"], config["stem"])
        return ProxylessNetwork(genotype, layout, self.data.num_classes, config["dropout"])

    @classmethod
    def describe(cls, genotype: Genotype) -> str:
        genotype = _proxyless_genotype(genotype)
        skeleton = genotype.skeleton
        layout = block_layout(skeleton, 1.0, cifar_stem=False, in_channels=3)
        lines = [
            f"skeleton {skeleton.name or 'custom'}: stem 3x3 conv -> {skeleton.first_conv}, "
            f"block 0 3x3_MBConv1 -> {skeleton.first_block}, feature mix -> {skeleton.feature_mix}",
            f"{'block':>5}  {'stage':>5}  {'width':>5}  {'stride':>6}  choice",
        ]
        for spec in layout.blocks:
            lines.append(
                f"{spec.index:>5}  {spec.stage:>5}  {spec.out_chs:>5}  {spec.stride:>6}  "
                f"{genotype.choice(spec.index)}"
            )
        return "\n".join(lines)


def _proxyless_genotype(genotype: Genotype) -> ProxylessGenotype:
    if not isinstance(genotype, ProxylessGenotype):
        raise ArchitectureError(
            f"space {SPACE_NAME!r} needs a {SPACE_NAME} genotype, got one of space {genotype.space!r}"
        )
    return genotype


def _check_width_mult(value: float) -> None:
    if not value > 0:
        raise OptionError(f"option 'width_mult' must be positive, got {value}")


def _int_list(text: str, key: str, odd: bool) -> list[int]:
    """``"3,5,7"`` → [3, 5, 7]: positive, distinct, odd where asked; else an OptionError naming ``key``."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise OptionError(f"option {key!r} expects comma-separated integers, got {text!r}") from None
    if not values:
        raise OptionError(f"option {key!r} is empty")
    if len(set(values)) != len(values):
        raise OptionError(f"option {key!r} repeats a value: {text!r}")
    if any(v < 1 or (odd and v % 2 == 0) for v in values):
        kind = "odd positive" if odd else "positive"
        raise OptionError(f"option {key!r} needs {kind} integers, got {text!r}")
    return values
