"""Eq. 3–5 of MdeNAS against hand-computed examples, ties and padding included."""

import pytest
import torch

from nasplug_mdenas.update import pairwise_differences, update_probabilities, votes


def test_pairwise_differences_are_h_i_minus_h_j():
    diffs = pairwise_differences(torch.tensor([[3, 1, 2]]))
    assert diffs.tolist() == [[[0, 2, 1], [-2, 0, -1], [-1, 1, 0]]]


def test_one_update_of_eq5_matches_hand_computation_with_ties():
    # H^e = [3, 1, 2, 2], H^a = [.5, .7, .5, .9]; strict inequalities, so ties count for nothing:
    # op0: beaten by op1 (less trained, more accurate) and op3; op2 ties op0 in H^a   -> -2
    # op1: beats op0 and op2; op3 is trained more but is more accurate                -> +2
    # op2: beaten by op1; ties op0 in H^a and op3 in H^e                               -> -1
    # op3: beats op0; op2 ties it in H^e; op1 is less trained but less accurate        -> +1
    times_trained = torch.tensor([[3, 1, 2, 2]])
    accuracy = torch.tensor([[0.5, 0.7, 0.5, 0.9]], dtype=torch.float64)
    mask = torch.ones(1, 4, dtype=torch.bool)
    assert votes(times_trained, accuracy, mask).tolist() == [[-2, 2, -1, 1]]

    uniform = torch.full((1, 4), 0.25, dtype=torch.float64)
    updated = update_probabilities(uniform, times_trained, accuracy, mask, alpha=0.01)
    assert updated.tolist()[0] == pytest.approx([0.23, 0.27, 0.24, 0.26], abs=1e-12)


def test_all_ties_leave_the_distribution_unchanged():
    probabilities = torch.tensor([[0.1, 0.6, 0.3]], dtype=torch.float64)
    mask = torch.ones(1, 3, dtype=torch.bool)
    distinct_accuracy = torch.tensor([[0.1, 0.9, 0.5]], dtype=torch.float64)
    equal_accuracy = torch.full((1, 3), 0.5, dtype=torch.float64)
    same_epochs = update_probabilities(probabilities, torch.tensor([[4, 4, 4]]), distinct_accuracy, mask, 0.1)
    same_accuracy = update_probabilities(probabilities, torch.tensor([[1, 7, 3]]), equal_accuracy, mask, 0.01)
    assert torch.equal(same_epochs, probabilities)
    assert torch.equal(same_accuracy, probabilities)


def test_negative_probability_is_clipped_and_the_row_renormalised():
    probabilities = torch.tensor([[0.005, 0.995]], dtype=torch.float64)
    updated = update_probabilities(
        probabilities,
        torch.tensor([[5, 1]]),
        torch.tensor([[0.2, 0.8]], dtype=torch.float64),
        torch.ones(1, 2, dtype=torch.bool),
        alpha=0.01,
    )
    # p + α·[-1, +1] = [-0.005, 1.005] -> clipped [0, 1.005] -> renormalised [0, 1]
    assert updated.tolist() == [[0.0, 1.0]]


def test_padded_choices_take_part_in_no_pair():
    # Row 1 has two real choices; its padded third column would beat both if it counted.
    times_trained = torch.tensor([[3, 1, 2], [2, 4, 0]])
    accuracy = torch.tensor([[0.5, 0.7, 0.6], [0.3, 0.6, 1.0]], dtype=torch.float64)
    mask = torch.tensor([[True, True, True], [True, True, False]])
    probabilities = torch.tensor([[0.2, 0.3, 0.5], [0.5, 0.5, 0.0]], dtype=torch.float64)

    updated = update_probabilities(probabilities, times_trained, accuracy, mask, alpha=0.1)

    alone = update_probabilities(
        probabilities[1:, :2], times_trained[1:, :2], accuracy[1:, :2], mask[1:, :2], alpha=0.1
    )
    assert votes(times_trained, accuracy, mask)[1].tolist() == [0, 0, 0]
    assert torch.equal(updated[1, :2], alone[0])
    assert updated[1, 2] == 0
    # Row 0 by hand: op0 (3, .5) loses to op1 (1, .7) and op2 (2, .6); op1 beats both; op2 beats op0.
    assert votes(times_trained, accuracy, mask)[0].tolist() == [-2, 2, 0]
    assert updated[0].tolist() == pytest.approx([0.0, 0.5, 0.5])
