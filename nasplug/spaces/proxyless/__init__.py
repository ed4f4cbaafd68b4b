"""The ProxylessNAS MobileNetV2 space (``proxyless-mbv2``): timm MBConv blocks, supernet, published nets."""

from nasplug.spaces.proxyless.genotype import ProxylessGenotype
from nasplug.spaces.proxyless.space import ProxylessSpace

__all__ = ["ProxylessGenotype", "ProxylessSpace"]
