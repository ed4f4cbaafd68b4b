"""A network is built once where it is ordinary, sized exactly where it is large, and refused where it
cannot fit: in this machine's memory (where it is built) or, with its gradients and momentum, the device's."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nasplug.runs import network_size
from nasplug.runs.network_size import NetworkTooLargeError, build_within_memory

CPU = torch.device("cpu")


class Builds:
    """A 1000 x 1000 linear layer (4,004,000 bytes of weights and bias), counting how often it is built."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> nn.Module:
        self.calls += 1
        return nn.Linear(1000, 1000)


def test_an_ordinary_network_is_built_once():
    build = Builds()
    assert isinstance(build_within_memory(build, "net", CPU, ""), nn.Linear) and build.calls == 1


def test_a_network_past_the_quick_limit_is_sized_then_built(monkeypatch):
    monkeypatch.setattr(network_size, "QUICK_BYTES", 1_000_000)
    build = Builds()
    module = build_within_memory(build, "net", CPU, "")
    assert build.calls == 3 and module.weight.device.type == "cpu"  # stopped, sized on meta, built


def test_training_on_a_device_counts_three_copies_against_its_memory(monkeypatch):
    monkeypatch.setattr(network_size, "QUICK_BYTES", 1_000_000)
    monkeypatch.setattr(network_size, "device_memory", lambda device: 10_000_000)  # < 3 x 4,004,000
    with pytest.raises(NetworkTooLargeError, match="with their gradients and momentum, more than the 0.0 GiB of cuda; smaller"):
        build_within_memory(Builds(), "net", torch.device("cuda"), "smaller")


def test_the_weights_must_fit_where_they_are_built(monkeypatch):
    monkeypatch.setattr(network_size, "QUICK_BYTES", 1_000_000)
    monkeypatch.setattr(network_size, "host_memory", lambda: 4_000_000)
    monkeypatch.setattr(network_size, "device_memory", lambda device: 10**12)  # a large GPU: staging decides
    with pytest.raises(NetworkTooLargeError, match="this machine's memory, where it is built; smaller"):
        build_within_memory(Builds(), "net", torch.device("cuda"), "smaller")
    monkeypatch.setattr(network_size, "host_memory", lambda: 6_000_000)  # 1x fits, though 3x would not
    assert isinstance(build_within_memory(Builds(), "net", torch.device("cuda"), "smaller"), nn.Linear)
