"""The uniform random-search baseline every NAS paper compares against."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from nasplug.core.markers import hookimpl
from nasplug.core.architecture import Architecture, Feedback, PendingValues, Step
from nasplug.core.controller import Controller
from nasplug.core.options import Option
from nasplug.core.space import Genotype, SearchSpace


class RandomController(Controller):
    """Samples every decision uniformly; derives from visit-weighted accuracy or at random.

    With ``derive=accuracy`` each choice is scored by the mean search-batch
    accuracy of the steps that sampled it (unvisited choices score 0); with
    ``derive=random`` the genotype is a uniform draw, the pure random baseline.
    The accuracies wait on the device (:class:`~nasplug.core.architecture.PendingValues`) until a
    derivation or a checkpoint needs the table: no host sync per step.
    """

    description = "uniform sampling baseline (built in)"
    learns_distribution = False  # reports the uniform it samples from; derives from accuracies, not from it
    options = {
        "derive": Option(str, "accuracy", "score choices by their mean search accuracy, or random",
                         choices=("accuracy", "random")),
    }

    def __init__(self, space: SearchSpace, options: Mapping[str, Any], seed: int) -> None:
        super().__init__(space, options, seed)
        self.decisions = space.decisions()
        # One flat table over every (decision, choice): one index_add per sample, not one op per decision.
        self.offsets = {}
        total = 0
        for decision in self.decisions:
            self.offsets[decision.key] = total
            total += len(decision)
        self.visits = torch.zeros(total)
        self._accuracy_sum = torch.zeros(total)
        self.pending = PendingValues()  # (table indices, accuracy) per sample, folded into accuracy_sum

    @hookimpl
    def sample_architecture(self) -> list[Architecture]:
        choices = {
            d.key: int(torch.randint(len(d), (), generator=self.generator)) for d in self.decisions
        }
        return [Architecture.single_path(choices)]

    @hookimpl
    def record_feedback(self, samples: Sequence[Architecture], feedback: Sequence[Feedback]) -> None:
        for sample, result in zip(samples, feedback):
            index = torch.tensor(
                [self.offsets[key] + choice for key, paths in sample.choices().items() for choice in paths]
            )
            self.visits.index_add_(0, index, torch.ones(len(index)))
            self.pending.add(index, result.accuracy)

    @property
    def accuracy_sum(self) -> torch.Tensor:
        """Summed accuracy per choice: the pending accuracies are added first (one transfer), in order."""
        for index, accuracy in self.pending.take():
            self._accuracy_sum.index_add_(0, index, torch.full((len(index),), accuracy))
        return self._accuracy_sum

    @hookimpl
    def update_distribution(self, step: Step) -> None:
        """The distribution stays uniform: nothing to learn."""

    @hookimpl
    def derive_genotype(self, space: SearchSpace) -> Genotype:
        if self.config["derive"] == "random":
            state = self.generator.get_state()  # deriving must not change what is sampled next
            scores = {d.key: torch.rand(len(d), generator=self.generator).tolist() for d in self.decisions}
            self.generator.set_state(state)
        else:
            mean_accuracy = (self.accuracy_sum / self.visits.clamp(min=1)).tolist()
            scores = {
                d.key: mean_accuracy[self.offsets[d.key] : self.offsets[d.key] + len(d)] for d in self.decisions
            }
        return space.genotype_from_scores(scores)

    @hookimpl
    def report_distribution(self) -> dict[str, list[float]]:
        return {d.key: [1.0 / len(d)] * len(d) for d in self.decisions}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "visits": self.visits, "accuracy_sum": self.accuracy_sum}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.visits = state["visits"].clone()
        self._accuracy_sum = state["accuracy_sum"].clone()
        self.pending = PendingValues()
