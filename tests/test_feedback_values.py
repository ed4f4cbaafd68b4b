"""Feedback as device tensors, host numbers from it in one transfer, host gates moved at once (issue 16)."""

from __future__ import annotations

import pytest
import torch

from nasplug import Architecture, ArchitectureError, Feedback, GatedChoice, PendingValues, feedback_values, host_floats
from nasplug.testing import feedback
from nasplug.testing.syncs import HostSyncCounter


def test_numbers_become_float64_tensors_and_tensors_are_detached():
    made = feedback(accuracy=0.3, loss=0.7, batch_size=4)
    assert made.accuracy.dtype == torch.float64 and made.accuracy.dim() == 0
    assert float(made.accuracy) == 0.3 and float(made.log_likelihood) == -0.7 * 4  # the old float contract
    loss = torch.tensor(1.5, requires_grad=True) * 2
    measured = Feedback(loss=loss, accuracy=torch.tensor(0.25), log_likelihood=-loss * 8, batch_size=8,
                        loss_tensor=loss)
    assert not measured.loss.requires_grad and measured.loss_tensor.requires_grad
    with pytest.raises(ArchitectureError, match="0-d tensors"):
        Feedback(loss=torch.ones(2), accuracy=0.0, log_likelihood=0.0, batch_size=2)


def test_feedback_values_reads_k_values_in_one_transfer():
    weight = torch.ones(())
    with HostSyncCounter([weight]) as counter:
        given = [feedback(loss=0.1 * k, log_likelihood=-(weight * k)) for k in range(1, 6)]
        values = feedback_values(given, "log_likelihood")
    assert values == [-1.0, -2.0, -3.0, -4.0, -5.0]
    assert counter.count == 1 and counter.reads == ["tolist"]
    assert host_floats([]) == []


def test_pending_values_fold_bit_for_bit_as_at_once():
    values = torch.rand(50, generator=torch.Generator().manual_seed(0)) / 3  # float32, as the engine's
    at_once = torch.zeros(3, dtype=torch.float64)
    pending = PendingValues()
    for index, value in enumerate(values):
        at_once[index % 3] += float(value)
        pending.add(index % 3, value)
    assert len(pending) == 50
    later = torch.zeros(3, dtype=torch.float64)
    for slot, value in pending.take():
        later[slot] += value
    assert torch.equal(later, at_once) and len(pending) == 0 and pending.take() == []


def test_host_gates_move_to_the_device_in_one_copy_and_keep_their_graph():
    alpha = torch.zeros(3, requires_grad=True)
    gates = torch.softmax(alpha, 0)
    shared = gates[0]
    sample = Architecture({"a": [GatedChoice(0, shared), GatedChoice(1, gates[1])], "b": [GatedChoice(2, shared)], "c": [1]})
    assert sample.to(torch.device("cpu")) is sample  # a CPU run: nothing moves, the bits stay
    moved = sample.to(torch.device("meta"))
    assert moved.choices() == sample.choices()
    assert all(gate.device.type == "meta" and gate.requires_grad for gate in moved.gates())
    assert moved.paths["a"][0].gate is moved.paths["b"][0].gate  # a shared gate stays one tensor
    assert moved.paths["c"][0].gate is None
