"""The EoiNAS indicator (Eq. 6–7), gradual operation pruning (Alg. 1) and derivation."""

from __future__ import annotations

import math

import pytest
import torch

from nasplug import Step
from nasplug.core.options import resolve_options
from nasplug.testing import evaluate, tiny_space
from nasplug_eoinas import EoiNAS
from nasplug_eoinas.importance import indicator
from nasplug_eoinas.schedule import is_prune_epoch


def make(space, **given) -> EoiNAS:
    return EoiNAS(space, resolve_options(EoiNAS.options, given, "eoinas"), 0)


def finish_epochs(controller: EoiNAS, space, epochs: int, total: int, steps: int = 2) -> list[list[int]]:
    """Drive update_distribution through ``epochs`` epochs; live-op counts per decision after each."""
    counts = []
    for epoch in range(epochs):
        for index in range(steps):
            step = Step(epoch, index, steps, total, epoch_end=index == steps - 1)
            controller.update_distribution(space, step)
        counts.append(controller.alive.sum(dim=1).tolist())
    return counts


def set_table(controller: EoiNAS, row: int, alpha, trained, accuracy) -> None:
    with torch.no_grad():
        controller.alpha[row, : len(alpha)] = torch.tensor(alpha)
    controller.trained[row, : len(trained)] = torch.tensor(trained, dtype=torch.float64)
    controller.accuracy[row, : len(accuracy)] = torch.tensor(accuracy, dtype=torch.float64)


def test_indicator_matches_a_hand_computed_example_and_decides_the_prune():
    space = tiny_space()
    controller = make(space, warmup=0, interval=1, keep="")
    # Decision "third" (none, f, g): α = (0, ln 2, ln 3) → β = (1/6, 2/6, 3/6).
    # C^e = (10, 4, 0), C^a = (9.0, 1.2, 0) → C^a/C^e = (0.9, 0.3, 0: never trained).
    # I = β + 0.5·C^a/C^e = (1/6 + 0.45, 1/3 + 0.15, 1/2) = (0.61667, 0.48333, 0.5).
    set_table(controller, 2, [0.0, math.log(2), math.log(3)], [10, 4, 0], [9.0, 1.2, 0.0])
    scores = controller.indicator()[2, :3]
    assert scores.tolist() == pytest.approx([1 / 6 + 0.45, 1 / 3 + 0.15, 0.5])

    controller.update_distribution(space, Step(0, 0, 1, 4, epoch_end=True))
    # β alone would prune "none" (1/6); I prunes "f".
    assert controller.alive[2, :3].tolist() == [True, False, True]
    # The survivors' β renormalises without the pruned op: (1/4, 3/4).
    assert controller.beta()[2, :3].tolist() == pytest.approx([0.25, 0.0, 0.75])


def test_indicator_function_handles_ops_never_trained():
    beta = torch.tensor([0.2, 0.8], dtype=torch.float64)
    scores = indicator(beta, torch.tensor([0.0, 5.0], dtype=torch.float64),
                       torch.tensor([0.0, 2.5], dtype=torch.float64), 0.5)
    assert scores.tolist() == pytest.approx([0.2, 0.8 + 0.25])


def test_feedback_accumulates_training_iterations_and_accuracy_of_the_sampled_ops():
    space = tiny_space()
    controller = make(space, warmup=5)
    supernet = space.build_supernet()
    seen = torch.zeros_like(controller.trained)
    accuracy = torch.zeros_like(controller.accuracy)
    for index in range(6):
        step = Step(0, index, 6, 10)
        [sample] = controller.sample_architecture(space, step)
        feedback = evaluate(supernet, sample, seed=index)
        controller.record_feedback(space, [sample], [feedback], step)
        for row, decision in enumerate(controller.decisions):
            seen[row, sample.choice(decision.key)] += 1
            accuracy[row, sample.choice(decision.key)] += feedback.accuracy
    assert torch.equal(controller.trained, seen)
    assert torch.allclose(controller.accuracy, accuracy)
    assert controller.trained.sum() == 6 * len(controller.decisions)


def test_prune_epochs_follow_warmup_then_every_interval():
    assert [e for e in range(1, 161) if is_prune_epoch(e, 20, 20)] == [40, 60, 80, 100, 120, 140, 160]
    assert [e for e in range(1, 7) if is_prune_epoch(e, 1, 1)] == [2, 3, 4, 5, 6]
    assert [e for e in range(1, 8) if is_prune_epoch(e, 0, 3)] == [3, 6]


def test_pruning_removes_exactly_one_op_per_decision_per_interval_and_keeps_none():
    space = tiny_space()
    controller = make(space, warmup=1, interval=2)  # keep="none" by default
    # Decisions: first (none, a, b, c), second (d, e), third (none, f, g); prunes after epochs 3, 5, 7, 9.
    counts = finish_epochs(controller, space, epochs=9, total=9)
    assert counts == [
        [4, 2, 3], [4, 2, 3],  # warm-up, then the first interval
        [3, 1, 2], [3, 1, 2],  # epoch 3: one op per decision
        [2, 1, 2], [2, 1, 2],  # epoch 5: "second" and "third" are down to one prunable op
        [2, 1, 2], [2, 1, 2], [2, 1, 2],
    ]
    assert controller.alive[0, 0] and controller.alive[2, 0]  # "none" is never pruned


def test_pruning_without_kept_choices_goes_down_to_one_op():
    space = tiny_space()
    controller = make(space, warmup=0, interval=1, keep="")
    counts = finish_epochs(controller, space, epochs=4, total=4)
    assert counts == [[3, 1, 2], [2, 1, 1], [1, 1, 1], [1, 1, 1]]


def test_pruned_ops_are_never_sampled_again_and_score_minus_infinity():
    space = tiny_space()
    controller = make(space, warmup=0, interval=1, keep="")
    set_table(controller, 0, [0.0, 0.0, 0.0, 0.0], [4, 4, 4, 4], [3.6, 0.4, 2.0, 2.8])  # "a" then "b" go
    finish_epochs(controller, space, epochs=2, total=3)
    assert controller.alive[0].tolist() == [True, False, False, True]

    for index in range(100):
        [sample] = controller.sample_architecture(space, Step(2, index, 100, 3))
        assert sample.choice("first") in (0, 3)
        assert controller.alive[1, sample.choice("second")] and controller.alive[2, sample.choice("third")]

    distribution = controller.report_distribution(space)
    assert [len(distribution[d.key]) for d in controller.decisions] == [4, 2, 3]
    assert distribution["first"][1] == distribution["first"][2] == 0.0
    assert all(sum(probs) == pytest.approx(1.0) for probs in distribution.values())

    genotype = controller.derive_genotype(space)
    scores = space.last_scores["first"]
    assert scores[1] == scores[2] == float("-inf")
    assert scores[0] == pytest.approx(0.5 + 0.5 * 0.9) and scores[3] == pytest.approx(0.5 + 0.5 * 0.7)
    assert genotype.choices["first"] == "none"
