"""The EoiNAS indicator (Eq. 6–7, units of the authors' code), gradual operation pruning (Alg. 1), derivation."""

from __future__ import annotations

import math

import pytest
import torch

from nasplug import Architecture, Step
from nasplug.core.options import resolve_options
from nasplug.testing import feedback, tiny_space
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
    # C^e = (200, 50, 0) iterations, C^a = (90, 30, 0) percent → C = C^a/C^e = (0.45, 0.6, 0: never trained).
    # I = β + 0.5·C = (1/6 + 0.225, 1/3 + 0.3, 1/2) = (0.39167, 0.63333, 0.5).
    set_table(controller, 2, [0.0, math.log(2), math.log(3)], [200, 50, 0], [90.0, 30.0, 0.0])
    scores = controller.indicator()[2, :3]
    assert scores.tolist() == pytest.approx([1 / 6 + 0.225, 1 / 3 + 0.3, 0.5])

    controller.update_distribution(space, Step(0, 0, 1, 4, epoch_end=True))
    # β alone would prune "none" (1/6) and so does I here; "g" (β 1/2, no evidence) outranks "none".
    assert controller.alive[2, :3].tolist() == [False, True, True]
    # The survivors' β renormalises without the pruned op: (2/5, 3/5).
    assert controller.beta()[2, :3].tolist() == pytest.approx([0.0, 0.4, 0.6])


def test_indicator_function_handles_ops_never_trained():
    beta = torch.tensor([0.2, 0.8], dtype=torch.float64)
    scores = indicator(beta, torch.tensor([0.0, 5.0], dtype=torch.float64),
                       torch.tensor([0.0, 2.5], dtype=torch.float64), 0.5)
    assert scores.tolist() == pytest.approx([0.2, 0.8 + 0.25])


def drive(controller: EoiNAS, space, epoch: int, picks, accuracies, epochs: int, first: int = 0) -> None:
    """Steps ``first``… of a 3-step epoch: hand-made single-path samples (decision → index), their accuracies."""
    for index, (pick, accuracy) in enumerate(zip(picks, accuracies), start=first):
        step = Step(epoch, index, 3, epochs, epoch_end=index == 2)
        sample = Architecture.single_path(pick)
        controller.record_feedback(space, [sample], [feedback(accuracy=accuracy)], step)
        controller.update_distribution(space, step)


def test_eq6_is_the_latest_accuracy_in_percent_over_the_iterations_since_the_last_prune():
    space = tiny_space()  # first (none, a, b, c), second (d, e), third (none, f, g)
    controller = make(space, warmup=1, interval=1)  # keep "none"; the first prune ends epoch 1 (from 0)
    # Warm-up (Alg. 1) trains the weights only: C^e and C^a start counting after it.
    drive(controller, space, 0, [{"first": 3, "second": 0, "third": 0}] * 3, [0.99] * 3, epochs=3)
    assert controller.trained.sum() == 0 and controller.accuracy.sum() == 0
    picks = [{"first": 1, "second": 0, "third": 1},
             {"first": 1, "second": 1, "third": 2},
             {"first": 2, "second": 1, "third": 2}]
    drive(controller, space, 1, picks[:2], [0.60, 0.90], epochs=3)
    # "third": f once at 60 %, g once at 90 % → C = (60/1, 90/1).
    assert controller.trained[2, :3].tolist() == [0, 1, 1]
    assert controller.accuracy[2, :3].tolist() == pytest.approx([0.0, 60.0, 90.0])
    # α stays 0 (no gates), so β = 1/3 and I = 1/3 + 0.5·C.
    assert controller.indicator()[2, :3].tolist() == pytest.approx([1 / 3, 1 / 3 + 30, 1 / 3 + 45])

    drive(controller, space, 1, picks[2:], [0.80], epochs=3, first=2)  # g again, at 80 %; the prune
    # Before it: g has C^a = 80 (the latest, not the sum or mean) over C^e = 2 → C = 40; f has 60/1 = 60.
    # I = (1/3, 1/3 + 30, 1/3 + 20): g goes.
    assert controller.alive[2, :3].tolist() == [True, True, False]
    # The mean reading, driven through the same steps, sums fractions from the first step (f 0.60/1,
    # g (0.90 + 0.80)/2 = 0.85): I = 1/3 + 0.5·C ranks f lowest of the prunable, and prunes f instead.
    mean = make(space, warmup=1, interval=1, indicator="mean")
    drive(mean, space, 0, [{"first": 3, "second": 0, "third": 0}] * 3, [0.99] * 3, epochs=3)
    drive(mean, space, 1, picks, [0.60, 0.90, 0.80], epochs=3)
    assert mean.alive[2, :3].tolist() == [True, False, True]
    # "first": a 90/2 = 45 and b 80/1 = 80 over none and c, untried (β only): c goes (none is kept).
    assert controller.alive[0].tolist() == [True, True, True, False]
    # C^e restarts after a prune; C^a keeps each op's latest accuracy.
    assert controller.trained.sum() == 0
    assert controller.accuracy[2, :3].tolist() == pytest.approx([0.0, 60.0, 80.0])


def test_the_search_s_last_prune_keeps_the_counts_for_the_derivation():
    space = tiny_space()
    controller = make(space, warmup=1, interval=1)
    drive(controller, space, 0, [{"first": 3, "second": 0, "third": 0}], [0.5], epochs=2, first=2)
    drive(controller, space, 1, [{"first": 1, "second": 1, "third": 1}], [0.7], epochs=2, first=2)
    assert controller.alive.sum() < make(space).alive.sum()  # pruned at the end of the last epoch
    assert controller.trained.sum() == len(controller.decisions)  # and the counts remain
    genotype_scores = controller.indicator()
    # "third": g (β alone) went, f keeps its 70 % over 1 iteration beside "none": I = 1/2 + 0.5·70.
    assert genotype_scores[2, 1] == pytest.approx(1 / 2 + 0.5 * 70.0)


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
    # C = C^a/C^e = (22.5, 2.5, 12.5, 17.5): "a" goes; C^e then restarts, so the same evidence is given
    # again for the second interval, and "b" goes.
    for epoch in range(2):
        set_table(controller, 0, [0.0, 0.0, 0.0, 0.0], [4, 4, 4, 4], [90.0, 10.0, 50.0, 70.0])
        controller.update_distribution(space, Step(epoch, 0, 1, 3, epoch_end=True))
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
    # C^e restarted at the last prune (epoch 2 of 3): no iterations since, so β alone scores.
    assert scores[0] == pytest.approx(0.5) and scores[3] == pytest.approx(0.5)
    assert genotype.choices["first"] == "none"
