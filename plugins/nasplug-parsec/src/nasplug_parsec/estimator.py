"""PARSEC's importance-sampling estimator (paper Alg. 1 lines 8–10, Eq. 7–8).

With α_k ~ p(α|π) and ω_k = p(y_s | X_s, v, α_k) the likelihood of the search
batch, the normalised weights ω̃_k = ω_k / Σ_j ω_j turn prior samples into
samples of the posterior p(α | y_s, X_s, v, π), and

    Σ_k ω̃_k ∇_π log p(α_k|π)  →  ∇_π log p(y_s | X_s, v, π)   as K → ∞,

the gradient of the log marginal likelihood (Fisher's identity). The same ω̃
weight the shared weights' training losses (done by the engine).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from nasplug import NasplugError


class FeedbackError(NasplugError, ValueError):
    """The engine's feedback cannot weight the samples (no samples, or a NaN log-likelihood)."""


def importance_weights(log_likelihoods: Sequence[float]) -> torch.Tensor:
    """ω̃_k = exp(ℓ_k − logsumexp_j ℓ_j) for ℓ_k = log p(y_s | X_s, v, α_k) (Alg. 1).

    Computed in log space: batch-summed log-likelihoods are hundreds of nats
    below zero, so exp(ℓ_k) itself underflows to 0 and ω_k / Σ_j ω_j would be 0/0.
    A sample with ℓ = −inf gets weight 0.
    """
    values = [float(value) for value in log_likelihoods]
    if not values:
        raise FeedbackError("PARSEC received no feedback to weight")
    bad = [(k, value) for k, value in enumerate(values) if math.isnan(value) or value == math.inf]
    if bad:
        k, value = bad[0]
        raise FeedbackError(
            f"sample {k} has log-likelihood {value}; PARSEC needs log p(y|x) <= 0 (did the loss diverge?)"
        )
    if all(value == -math.inf for value in values):
        raise FeedbackError("every sample has likelihood 0 (log-likelihood -inf): the weights are undefined")
    ell = torch.tensor(values, dtype=torch.float64)
    return torch.exp(ell - torch.logsumexp(ell, dim=0))


def log_prior_gradient(logits: torch.Tensor, chosen: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Σ_k ω̃_k ∇_π log p(α_k|π) for one categorical decision with logits π.

    For a softmax categorical ∇_π log softmax(π)[a] = onehot(a) − softmax(π),
    so the sum is the ω̃-weighted choice counts minus (Σ_k ω̃_k)·softmax(π).

    :param logits: π of the decision, shape (M,).
    :param chosen: the choice index of each sample, shape (K,).
    :param weights: ω̃, shape (K,).
    """
    weighted_counts = torch.zeros_like(logits).index_add_(0, chosen, weights.to(logits.dtype))
    return weighted_counts - weights.sum().to(logits.dtype) * torch.softmax(logits, dim=0)
