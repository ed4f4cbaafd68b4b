"""The three nets ProxylessNAS published (Cai et al., ICLR 2019, Fig. 4 and the released configs).

Blocks 1–21 per net (block 0, the fixed 3×3 MBConv1, is part of the
skeleton); the widths are in :data:`~nasplug.spaces.proxyless.skeleton.SKELETONS`.
"""

from __future__ import annotations

from nasplug.spaces.proxyless.genotype import ProxylessGenotype
from nasplug.spaces.proxyless.skeleton import SKELETONS

_Z = "zero"

PROXYLESS_GPU = ProxylessGenotype(
    SKELETONS["proxyless_gpu"],
    (
        "5x5_MBConv3", _Z, _Z, _Z,  # → 32, stride 2
        "7x7_MBConv3", _Z, _Z, "3x3_MBConv3",  # → 56, stride 2
        "7x7_MBConv6", _Z, _Z, "5x5_MBConv3",  # → 112, stride 2
        "5x5_MBConv6", _Z, "3x3_MBConv3", "5x5_MBConv3",  # → 128
        "7x7_MBConv6", "7x7_MBConv6", "7x7_MBConv6", "5x5_MBConv6",  # → 256, stride 2
        "7x7_MBConv6",  # → 432
    ),
)

PROXYLESS_CPU = ProxylessGenotype(
    SKELETONS["proxyless_cpu"],
    (
        "3x3_MBConv6", "3x3_MBConv3", "3x3_MBConv3", "3x3_MBConv3",  # → 32, stride 2
        "3x3_MBConv6", "3x3_MBConv3", "3x3_MBConv3", "5x5_MBConv3",  # → 48, stride 2
        "3x3_MBConv6", "3x3_MBConv3", _Z, _Z,  # → 88, stride 2
        "5x5_MBConv6", "3x3_MBConv3", "3x3_MBConv3", "3x3_MBConv3",  # → 104
        "5x5_MBConv6", "5x5_MBConv3", "5x5_MBConv3", "3x3_MBConv3",  # → 216, stride 2
        "5x5_MBConv6",  # → 360
    ),
)

PROXYLESS_MOBILE = ProxylessGenotype(
    SKELETONS["proxyless_mobile"],
    (
        "5x5_MBConv3", "3x3_MBConv3", _Z, _Z,  # → 32, stride 2
        "7x7_MBConv3", "3x3_MBConv3", "5x5_MBConv3", "5x5_MBConv3",  # → 40, stride 2
        "7x7_MBConv6", "5x5_MBConv3", "5x5_MBConv3", "5x5_MBConv3",  # → 80, stride 2
        "5x5_MBConv6", "5x5_MBConv3", "5x5_MBConv3", "5x5_MBConv3",  # → 96
        "7x7_MBConv6", "7x7_MBConv6", "7x7_MBConv3", "7x7_MBConv3",  # → 192, stride 2
        "7x7_MBConv6",  # → 320
    ),
)

PUBLISHED: dict[str, ProxylessGenotype] = {
    "proxyless_gpu": PROXYLESS_GPU,
    "proxyless_cpu": PROXYLESS_CPU,
    "proxyless_mobile": PROXYLESS_MOBILE,
}
