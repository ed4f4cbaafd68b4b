import math

import pytest
import torch

from nasplug.core.architecture import Architecture, ArchitectureError, Decision, GatedChoice, Step, entropy

DECISIONS = (Decision("a", ["x", "y", "z"]), Decision("b", ["p", "q"]))


def test_decision_validation():
    with pytest.raises(ArchitectureError, match="no choices"):
        Decision("k", [])
    with pytest.raises(ArchitectureError, match="repeats"):
        Decision("k", ["a", "a"])
    with pytest.raises(ArchitectureError, match="'w' is not a choice of 'a'; choices: x, y, z"):
        DECISIONS[0].index("w")


def test_json_round_trip_by_names():
    arch = Architecture.from_names(DECISIONS, {"a": "z", "b": "p"})
    data = arch.to_json(DECISIONS)
    assert data == {"a": ["z"], "b": ["p"]}
    assert Architecture.from_json(data, DECISIONS) == arch
    assert arch.choice("a") == 2


def test_validate_names_the_problem():
    with pytest.raises(ArchitectureError, match="unknown decision key 'c'"):
        Architecture.single_path({"c": 0}).validate(DECISIONS)
    with pytest.raises(ArchitectureError, match="choice 2 out of range for 'b'"):
        Architecture.single_path({"b": 2}).validate(DECISIONS)


def test_gates_and_detached():
    alpha = torch.zeros(3, requires_grad=True)
    gate = torch.softmax(alpha, 0)[1]
    arch = Architecture({"a": [GatedChoice(1, gate)], "b": [0]})
    assert arch.requires_grad()
    assert not arch.detached().requires_grad()
    assert arch.detached().choices() == {"a": (1,), "b": (0,)}
    with pytest.raises(ArchitectureError, match="has 0 paths"):
        Architecture({"a": []}).choice("a")


def test_entropy_and_step():
    assert entropy({"a": [0.5, 0.5], "b": [1.0, 0.0]}) == pytest.approx(math.log(2))
    step = Step(epoch=1, index=2, steps_per_epoch=5, epochs=4)
    assert step.global_step == 7
    assert step.progress == pytest.approx(8 / 20)
