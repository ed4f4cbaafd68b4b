"""The uniform random-search baseline every NAS paper compares against."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from nasplug import hookimpl
from nasplug.arch import Architecture, Feedback, Step
from nasplug.controller import Controller
from nasplug.options import Option
from nasplug.space import Genotype, SearchSpace


class RandomController(Controller):
    """Samples every decision uniformly; derives from visit-weighted accuracy or at random.

    With ``derive=accuracy`` each choice is scored by the mean search-batch
    accuracy of the steps that sampled it (unvisited choices score 0); with
    ``derive=random`` the genotype is a uniform draw, the pure random baseline.
    """

    description = "uniform sampling baseline (built in)"
    options = {
        "derive": Option(str, "accuracy", "score choices by their mean search accuracy, or random",
                         choices=("accuracy", "random")),
    }

    def __init__(self, space: SearchSpace, options: Mapping[str, Any], seed: int) -> None:
        super().__init__(space, options, seed)
        self.decisions = space.decisions()
        self.visits = {d.key: torch.zeros(len(d)) for d in self.decisions}
        self.accuracy_sum = {d.key: torch.zeros(len(d)) for d in self.decisions}

    @hookimpl
    def sample_architecture(self) -> list[Architecture]:
        choices = {
            d.key: int(torch.randint(len(d), (), generator=self.generator)) for d in self.decisions
        }
        return [Architecture.single_path(choices)]

    @hookimpl
    def record_feedback(self, samples: Sequence[Architecture], feedback: Sequence[Feedback]) -> None:
        for sample, result in zip(samples, feedback):
            for key, choice in sample.choices().items():
                self.visits[key][list(choice)] += 1
                self.accuracy_sum[key][list(choice)] += result.accuracy

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
            scores = {
                key: (self.accuracy_sum[key] / self.visits[key].clamp(min=1)).tolist() for key in self.visits
            }
        return space.genotype_from_scores(scores)

    @hookimpl
    def report_distribution(self) -> dict[str, list[float]]:
        return {d.key: [1.0 / len(d)] * len(d) for d in self.decisions}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "visits": self.visits, "accuracy_sum": self.accuracy_sum}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.visits = {key: value.clone() for key, value in state["visits"].items()}
        self.accuracy_sum = {key: value.clone() for key, value in state["accuracy_sum"].items()}
