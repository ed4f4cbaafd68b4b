"""One search step (DESIGN §5): sample, measure feedback, weight the samples, train the weights, update.

The controller samples K architectures; each is evaluated on the step's search batch (feedback);
the shared weights are trained on a batch of the train split with the controller's per-sample
weights, one sample at a time so memory stays that of one child; the controller updates its
distribution. Under torchrun the samples are spread over the ranks and their feedback shared.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence

import attrs
import torch
from torch import nn
from torch.nn import functional as F

from nasplug.core.architecture import Architecture, Feedback, Step
from nasplug.core.space import SearchSpace
from nasplug.plugin import Hooks
from nasplug.runs.device import Precision
from nasplug.runs.divergence import check_finite
from nasplug.search.config import RunError
from nasplug.search.distributed import World, all_sum_tensor, exchange_feedback, training_share
from nasplug.search.step_totals import ordered_mean
from nasplug.search.target import CostTarget

STEP_METRICS = ("train_loss", "train_accuracy", "search_loss", "search_accuracy")
"""What every step measures; the epoch's record holds their means."""

Batch = tuple[torch.Tensor, torch.Tensor]


@attrs.define
class SearchStep:
    """The hooks' order within a step around the supernet; called once per step."""

    hooks: Hooks
    space: SearchSpace
    controller: str
    supernet: nn.Module
    model: nn.Module
    """What trains the weights: DDP around the supernet on several ranks, the supernet itself on one."""
    optimizer: torch.optim.Optimizer
    grad_clip: float
    precision: Precision
    world: World
    divergence_advice: Callable[[], str]
    target: CostTarget | None = None
    """Where the run searches under a cost target: scores the feedback the controller receives."""

    def __call__(self, step: Step, train: Batch, search: Batch) -> dict[str, torch.Tensor]:
        """One search step; its metrics are float64 0-d tensors on the device (nothing waits for it)."""
        device = self.precision.device
        samples = [sample.to(device) for sample in self.sample(step)]  # host gates: one copy each
        if self.world.is_distributed:
            # Rank r evaluates samples r, r + N, ... on the step's search batch (the same on every
            # rank); all ranks get all feedback.
            local = {k: self.feedback(samples[k], *search) for k in self.world.owned(len(samples))}
            feedback = exchange_feedback(self.world, samples, local)
            del local
        else:
            feedback = [self.feedback(sample, *search) for sample in samples]
        measured = feedback
        if self.target is not None:
            feedback, costs = self.target.score(samples, feedback)
        self.hooks.record_feedback(self.space, samples, feedback, step)
        weights = self.hooks.sample_weights(self.space, samples, feedback, step)
        # The weights are host floats from the controller: checking them every step is free.
        check_finite({"sample_weights": weights}, f"epoch {step.epoch + 1}, step {step.index + 1}",
                     self.divergence_advice)
        search_loss = ordered_mean([f.loss for f in measured])
        search_accuracy = ordered_mean([f.accuracy for f in measured])
        metrics = {}
        if self.target is not None:
            metrics = {"search_cost": torch.tensor(sum(costs) / len(costs), dtype=torch.float64, device=device),
                       "search_reward": ordered_mean([f.accuracy.double() for f in feedback])}
        del feedback, measured  # drop any graph to the gates before the weight step
        train_loss, train_accuracy = self.train_weights(samples, weights, *train)
        self.hooks.update_distribution(self.space, step)
        return {
            "train_loss": train_loss,
            "train_accuracy": train_accuracy,
            "search_loss": search_loss,
            "search_accuracy": search_accuracy,
            **metrics,
        }

    def sample(self, step: Step) -> list[Architecture]:
        """The controller's samples, asked for again until every rank has one (hookspecs)."""
        samples: list[Architecture] = []
        while True:
            drawn = self.hooks.sample_architecture(self.space, step)
            if not drawn:
                raise RunError(f"controller {self.controller!r} returned no architecture to sample")
            samples.extend(drawn)
            if len(samples) >= self.world.size:
                return samples

    def feedback(self, sample: Architecture, x: torch.Tensor, y: torch.Tensor) -> Feedback:
        """Loss, accuracy and log-likelihood of one sample on the search batch, as device tensors.

        The forward runs under bf16 autocast when ``amp`` is on; the loss and the values are
        computed in float32 (the log-likelihood in float64). The graph is kept only for gates.
        """
        keep_graph = sample.requires_grad()
        with torch.set_grad_enabled(keep_graph):
            with self.precision.autocast():
                logits = self.supernet(x, sample)
            loss = F.cross_entropy(logits.float(), y)
        value = loss.detach()
        return Feedback(
            loss=value,
            accuracy=(logits.detach().argmax(1) == y).float().mean(),
            log_likelihood=-value.double() * len(y),
            batch_size=len(y),
            loss_tensor=loss if keep_graph else None,
        )

    def train_weights(
        self, samples: Sequence[Architecture], weights: Sequence[float], x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Σ_k w_k · loss_k, backward per sample so only one child's graph is alive at a time.

        On N ranks each rank backpropagates its share of the samples on its own
        batch, scaled by N: DDP averages over the ranks, so the step's gradient is
        Σ_k w_k ∇loss_k, each sample's loss on the batch of the rank that trained it.
        Returns the weighted mean loss and accuracy as float64 device tensors (no host sync:
        the weights are host floats, and clipping and SGD stay on the device).
        """
        self.optimizer.zero_grad(set_to_none=True)
        # Σ w·loss and Σ w·accuracy, on the device
        loss_sum = correct = torch.zeros((), dtype=torch.float64, device=self.precision.device)
        share = training_share(self.world, weights)
        for position, (index, weight) in enumerate(share):
            # DDP all-reduces in the share's last backward; the earlier ones accumulate locally.
            last = position == len(share) - 1
            with self.model.no_sync() if self.world.is_distributed and not last else contextlib.nullcontext():
                with self.precision.autocast():
                    logits = self.model(x, samples[index].detached())
                loss = F.cross_entropy(logits.float(), y)
                (weight * self.world.size * loss).backward()
            loss_sum = loss_sum + weight * loss.detach().double()
            correct = correct + weight * (logits.detach().argmax(1) == y).float().mean().double()
        loss_sum, correct = all_sum_tensor(self.world, torch.stack([loss_sum, correct]))
        total = sum(weights)
        if self.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.supernet.parameters(), self.grad_clip)
        self.optimizer.step()
        if not total:
            return torch.full_like(loss_sum, math.nan), torch.full_like(correct, math.nan)
        return loss_sum / total, correct / total
