"""The importance weights and the π-gradient estimator against exact values on an enumerable problem.

The problem: two decisions of three choices (9 architectures), a fixed
log-likelihood ℓ(α) per architecture, logits π. The estimator must target the
gradient of the log marginal likelihood log Σ_α p(α|π) exp ℓ(α), which autograd
computes exactly by enumeration.
"""

import math

import pytest
import torch

from nasplug.core.options import resolve_options
from nasplug.testing import all_architectures, tiny_space
from nasplug.testing import feedback as made_feedback
from nasplug_parsec import PARSEC
from nasplug_parsec.estimator import FeedbackError, importance_weights, log_prior_gradient


def controller(space, seed=0, **options):
    return PARSEC(space, resolve_options(PARSEC.options, options, "parsec"), seed)


def feedback(log_likelihood):
    return made_feedback(0.0, 0.0, log_likelihood=float(log_likelihood), batch_size=1)


def problem(seed=0):
    """A space, logits π and a log-likelihood table ℓ[first, second], all fixed by ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    logits = {"first": torch.randn(3, generator=generator, dtype=torch.float64),
              "second": torch.randn(3, generator=generator, dtype=torch.float64)}
    table = 1.5 * torch.randn(3, 3, generator=generator, dtype=torch.float64)
    return tiny_space({"first": 3, "second": 3}), logits, table


def ell(table, arch):
    return float(table[arch.choice("first"), arch.choice("second")])


def exact_gradient(logits, table):
    """∇_π log Σ_α p(α|π) exp ℓ(α), by autograd over all 9 architectures."""
    first = logits["first"].clone().requires_grad_(True)
    second = logits["second"].clone().requires_grad_(True)
    log_prior = torch.log_softmax(first, 0)[:, None] + torch.log_softmax(second, 0)[None, :]
    torch.logsumexp(log_prior + table, dim=(0, 1)).backward()
    return {"first": first.grad, "second": second.grad}


def estimate(space, logits, table, samples, seed):
    parsec = controller(space, seed, samples=samples)
    parsec.prior.assign(logits)
    drawn = parsec.sample_architecture()
    parsec.record_feedback(drawn, [feedback(ell(table, arch)) for arch in drawn])
    return parsec.gradient()


def max_error(estimated, exact):
    return max(float((estimated[key] - exact[key]).abs().max()) for key in exact)


def test_importance_weights_hand_computed_and_shift_invariant():
    expected = torch.tensor([0.25, 0.75], dtype=torch.float64)
    assert torch.allclose(importance_weights([math.log(1.0), math.log(3.0)]), expected)
    # Batch-summed log-likelihoods far below zero: exp() alone would underflow to 0/0.
    shifted = importance_weights([-20000.0 + math.log(1.0), -20000.0 + math.log(3.0)])
    assert torch.allclose(shifted, expected)
    assert importance_weights([-5.0, -math.inf]).tolist() == [1.0, 0.0]
    assert importance_weights([-7.0]).tolist() == [1.0]


@pytest.mark.parametrize(
    ("values", "message"),
    [([], "no feedback"), ([-1.0, math.nan], "sample 1 has log-likelihood nan"),
     ([math.inf], "sample 0"), ([-math.inf, -math.inf], "likelihood 0")],
)
def test_importance_weights_reject_unusable_feedback(values, message):
    with pytest.raises(FeedbackError, match=message):
        importance_weights(values)


def test_closed_form_score_matches_autograd():
    logits = torch.tensor([0.3, -1.2, 0.5, 2.0], dtype=torch.float64)
    chosen = torch.tensor([2, 0, 2, 3])
    weights = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    leaf = logits.clone().requires_grad_(True)
    (weights * torch.log_softmax(leaf, 0)[chosen]).sum().backward()
    assert torch.allclose(log_prior_gradient(logits, chosen, weights), leaf.grad, atol=1e-12)


def test_posterior_weighted_enumeration_gives_the_exact_gradient():
    # Weighting every architecture once by p(α|π)·exp ℓ(α) makes ω̃ the exact posterior,
    # and the estimator's sum the exact gradient (Fisher's identity), to rounding.
    space, logits, table = problem(seed=1)
    parsec = controller(space)
    parsec.prior.assign(logits)
    log_p = {key: torch.log_softmax(value, 0) for key, value in logits.items()}
    archs = all_architectures(space)
    log_prior = [float(log_p["first"][a.choice("first")] + log_p["second"][a.choice("second")])
                 for a in archs]
    parsec.record_feedback(archs, [feedback(ell(table, a) + lp) for a, lp in zip(archs, log_prior)])
    assert max_error(parsec.gradient(), exact_gradient(logits, table)) < 1e-12


def test_sampled_estimator_converges_to_the_exact_gradient():
    space, logits, table = problem(seed=2)
    exact = exact_gradient(logits, table)
    assert max(float(g.abs().max()) for g in exact.values()) > 0.1  # a gradient worth estimating

    assert max_error(estimate(space, logits, table, samples=40000, seed=0), exact) < 0.02
    small = sum(max_error(estimate(space, logits, table, samples=50, seed=s), exact) for s in range(8))
    large = sum(max_error(estimate(space, logits, table, samples=5000, seed=s), exact) for s in range(8))
    assert large < small / 4  # error shrinks like 1/√K (expected ratio 10)


def test_learning_concentrates_on_the_most_likely_architecture():
    # With ℓ fixed, log Σ_α p(α|π) exp ℓ(α) is maximised by the point mass on argmax ℓ.
    space, _, table = problem(seed=3)
    best = divmod(int(table.argmax()), 3)
    parsec = controller(space, samples=8)
    for _ in range(300):
        drawn = parsec.sample_architecture()
        parsec.record_feedback(drawn, [feedback(ell(table, arch)) for arch in drawn])
        parsec.update_distribution()
    probs = parsec.report_distribution()
    mode = (max(range(3), key=probs["first"].__getitem__), max(range(3), key=probs["second"].__getitem__))
    assert mode == best
    assert probs["first"][best[0]] * probs["second"][best[1]] > 0.8
