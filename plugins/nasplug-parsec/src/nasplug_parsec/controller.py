"""The PARSEC controller: K prior samples per step, importance weights, Adam ascent on π (Alg. 1)."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import torch

from nasplug import (
    Architecture,
    CheckpointError,
    Controller,
    Feedback,
    Genotype,
    Option,
    OptionError,
    SearchSpace,
    TransferError,
    feedback_values,
    hookimpl,
)
from nasplug_parsec.estimator import FeedbackError, importance_weights, log_prior_gradient
from nasplug_parsec.prior import CategoricalPrior

ADAM_BETAS = (0.5, 0.999)  # the paper's Adam momentum for π


@attrs.frozen
class Evidence:
    """One step's samples as choice indices per decision, and their normalised weights ω̃."""

    chosen: dict[str, torch.Tensor]
    weights: torch.Tensor


class PARSEC(Controller):
    """Probabilistic neural architecture search (Casale, Gordon, Fusi, 2019).

    A prior p(α|π) of independent categoricals over the space's decisions — on
    a space that offers the ``slot`` factorisation (DARTS cell, paper Eq. 4–5)
    each node's two input slots, otherwise one categorical per decision. Every
    step draws K architectures, weights them by their search-batch likelihood
    (ω̃, also the weights of the engine's weight update) and moves π by Adam
    along Σ_k ω̃_k ∇_π log p(α_k|π). The derived genotype is the mode of p(α|π).
    """

    description = "PARSEC: probabilistic NAS, importance-weighted learning of an architecture prior (2019)"
    options = {
        "samples": Option(int, 8, "architectures K sampled per step (paper: 8 or 16)"),
        "arch_lr": Option(float, 0.02, "Adam learning rate of the logits π (paper: 0.02; 0.01 to fine-tune)"),
        "arch_weight_decay": Option(
            float, 1e-3, "Adam weight decay of the logits π (§4.1: the other settings are DARTS's, 1e-3)"
        ),
    }

    def __init__(self, space: SearchSpace, options: Mapping[str, Any], seed: int) -> None:
        super().__init__(space, options, seed)
        if self.config["samples"] < 1:
            raise OptionError(f"option 'samples' must be at least 1, got {self.config['samples']}")
        if not self.config["arch_lr"] > 0:
            raise OptionError(f"option 'arch_lr' must be positive, got {self.config['arch_lr']}")
        if self.config["arch_weight_decay"] < 0:
            raise OptionError(f"option 'arch_weight_decay' must be >= 0, got {self.config['arch_weight_decay']}")
        self.factorisation = "slot" if "slot" in space.factorisations else "edge"
        self.prior = CategoricalPrior(space.decisions(self.factorisation))
        self.optimizer = self._new_optimizer()
        self.evidence: Evidence | None = None

    def _new_optimizer(self) -> torch.optim.Adam:
        # maximize: π ascends the log marginal likelihood; the weight decay still pulls π toward 0
        # (torch adds it after negating the gradient), i.e. toward the uniform prior, as DARTS's does α.
        return torch.optim.Adam(
            list(self.prior.logits.values()),
            lr=self.config["arch_lr"],
            betas=ADAM_BETAS,
            weight_decay=self.config["arch_weight_decay"],
            maximize=True,
        )

    def _recorded(self) -> Evidence:
        if self.evidence is None:
            raise FeedbackError("PARSEC has no feedback for this step (record_feedback was not called)")
        return self.evidence

    def gradient(self) -> dict[str, torch.Tensor]:
        """Σ_k ω̃_k ∇_π log p(α_k|π) per decision, from the evidence recorded this step (Alg. 1)."""
        evidence = self._recorded()
        return {
            key: log_prior_gradient(logits, evidence.chosen[key], evidence.weights)
            for key, logits in self.prior.logits.items()
        }

    # ------------------------------------------------------------------ hooks

    @hookimpl
    def sample_architecture(self) -> list[Architecture]:
        return self.prior.sample(self.config["samples"], self.generator)

    @hookimpl
    def record_feedback(self, samples: Sequence[Architecture], feedback: Sequence[Feedback]) -> None:
        if len(samples) != len(feedback):
            raise FeedbackError(f"PARSEC got {len(feedback)} feedback records for {len(samples)} samples")
        # Floats and index tensors only: no autograd graph outlives the engine's evaluation.
        # ω̃ is needed now (it weights this step's weight update): the K log-likelihoods
        # come to the host in one transfer, the step's one host sync.
        weights = importance_weights(feedback_values(feedback, "log_likelihood"))
        self.evidence = Evidence(self.prior.choices(samples), weights)

    @hookimpl
    def sample_weights(self, samples: Sequence[Architecture]) -> list[float]:
        weights = self._recorded().weights
        if len(weights) != len(samples):
            raise FeedbackError(f"PARSEC holds {len(weights)} importance weights for {len(samples)} samples")
        return weights.tolist()

    @hookimpl
    def update_distribution(self) -> None:
        gradient = self.gradient()
        for key, logits in self.prior.logits.items():
            logits.grad = gradient[key]
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.evidence = None

    @hookimpl
    def derive_genotype(self, space: SearchSpace) -> Genotype:
        # The mode of independent categoricals is the argmax of each π_d; the space applies it.
        return space.genotype_from_scores({key: logits.tolist() for key, logits in self.prior.logits.items()})

    @hookimpl
    def report_distribution(self) -> dict[str, list[float]]:
        return {key: probs.tolist() for key, probs in self.prior.probabilities().items()}

    # ------------------------------------------------------------------ state

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "logits": self.prior.state(),
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        logits = state.get("logits")
        if not isinstance(logits, Mapping) or "optimizer" not in state:
            raise CheckpointError("controller state has no PARSEC logits and optimizer (not a PARSEC run?)")
        problems = self.prior.mismatches(logits)
        if problems:
            raise CheckpointError(f"PARSEC state does not fit this space: {'; '.join(problems)}")
        super().load_state_dict(state)
        self.prior.assign(logits)
        self.optimizer.load_state_dict(copy.deepcopy(state["optimizer"]))
        # Adam's restored groups hold the decay the run started with (0 before the option existed):
        # the resume keeps it, and the option says so.
        self.config["arch_weight_decay"] = self.optimizer.param_groups[0]["weight_decay"]
        self.evidence = None

    def transfer_state(self, state: Mapping[str, Any]) -> None:
        """Start from an earlier run's π with a fresh Adam (paper §4.2's fine-tuning).

        Only the distribution transfers; the sampling generator stays this
        run's own and Adam restarts at this run's ``arch_lr``.
        """
        logits = state.get("logits")
        if not isinstance(logits, Mapping):
            raise TransferError("--init-from: the earlier run's controller state has no PARSEC logits π")
        problems = self.prior.mismatches(logits)
        if problems:
            raise TransferError(
                f"--init-from: the earlier run's distribution does not fit this space: {'; '.join(problems)}"
            )
        self.prior.assign(logits)
        self.optimizer = self._new_optimizer()
        self.evidence = None
