"""The MdeNAS controller: sample by multinomial p, record H^e/H^a, update p per epoch (Eq. 1–5)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

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
    PendingValues,
    Step,
    hookimpl,
)
from nasplug_mdenas.table import DecisionTable
from nasplug_mdenas.update import update_probabilities

_TENSORS = ("probabilities", "times_trained", "accuracy", "epoch_accuracy_sum", "epoch_samples")


class MdeNAS(Controller):
    """Multinomial distribution learning (Zheng et al., ICCV 2019) on any space's decisions.

    One categorical p per decision, initialised uniform. Every step samples one
    choice per decision; every sampled op is credited with one training step
    (H^e) and the sample's validation accuracy. At each epoch end H^a becomes
    each op's mean accuracy over that epoch (ops not sampled keep theirs) and p
    moves by Eq. 5. The accuracies wait on the device (``PendingValues``) until that
    epoch-end update: no host sync per step. The genotype takes the ops of highest final p
    (the paper's rule) or, with ``derive=frequency``, of highest H^e share (docs/controllers/mdenas.md).
    """

    description = "MdeNAS: multinomial distribution learning by pairwise ranking of ops (ICCV 2019)"
    options = {
        "alpha": Option(float, 0.01, "step size of the probability update, Eq. 5 (paper: 0.01)"),
        "derive": Option(str, "probability",
                         "pick by the final p (paper) or by frequency, the share of steps each op was sampled "
                         "(H^e: p averaged over the search)", choices=("probability", "frequency")),
    }

    def __init__(self, space: SearchSpace, options: Mapping[str, Any], seed: int) -> None:
        super().__init__(space, options, seed)
        if not self.config["alpha"] > 0:
            raise OptionError(f"option 'alpha' must be positive, got {self.config['alpha']}")
        self.table = DecisionTable.from_decisions(space.decisions())
        self.mask = self.table.mask()
        shape = self.mask.shape
        self.probabilities = self.table.uniform()  # Eq. 1: p_i = 1/M
        self.times_trained = torch.zeros(shape, dtype=torch.int64)  # H^e
        self.accuracy = torch.zeros(shape, dtype=torch.float64)  # H^a
        self._epoch_accuracy_sum = torch.zeros(shape, dtype=torch.float64)
        self.epoch_samples = torch.zeros(shape, dtype=torch.int64)
        self.pending = PendingValues()  # (one-hot of a sample, its accuracy) for epoch_accuracy_sum

    @hookimpl
    def sample_architecture(self) -> list[Architecture]:
        # Eq. 2: one op per decision, drawn from its multinomial p.
        indices = torch.multinomial(self.probabilities, 1, generator=self.generator).squeeze(1)
        return [self.table.architecture(indices)]

    @hookimpl
    def record_feedback(self, samples: Sequence[Architecture], feedback: Sequence[Feedback]) -> None:
        for sample, result in zip(samples, feedback):
            chosen = self.table.one_hot(sample)
            self.times_trained += chosen
            self.epoch_samples += chosen
            self.pending.add(chosen, result.accuracy)

    @property
    def epoch_accuracy_sum(self) -> torch.Tensor:
        """This epoch's summed accuracy per op, the pending accuracies added first (one transfer), in order."""
        for chosen, accuracy in self.pending.take():
            self._epoch_accuracy_sum += chosen * accuracy
        return self._epoch_accuracy_sum

    @epoch_accuracy_sum.setter
    def epoch_accuracy_sum(self, table: torch.Tensor) -> None:
        self._epoch_accuracy_sum = table
        self.pending = PendingValues()

    @hookimpl
    def update_distribution(self, step: Step) -> None:
        if not step.epoch_end:
            return
        sampled = self.epoch_samples > 0
        epoch_mean = self.epoch_accuracy_sum / self.epoch_samples.clamp(min=1)
        self.accuracy = torch.where(sampled, epoch_mean, self.accuracy)
        self.probabilities = update_probabilities(
            self.probabilities, self.times_trained, self.accuracy, self.mask, self.config["alpha"]
        )
        self.epoch_accuracy_sum.zero_()
        self.epoch_samples.zero_()

    @hookimpl
    def derive_genotype(self, space: SearchSpace) -> Genotype:
        return space.genotype_from_scores(self.table.to_mapping(self._derivation_scores()))

    def _derivation_scores(self) -> torch.Tensor:
        """Final p, or each op's share of its decision's samples (uniform before the first step)."""
        if self.config["derive"] == "probability" or not self.times_trained.any():
            return self.probabilities
        counts = self.times_trained.to(torch.float64) * self.mask
        return counts / counts.sum(dim=-1, keepdim=True)

    @hookimpl
    def report_distribution(self) -> dict[str, list[float]]:
        return self.table.to_mapping(self.probabilities)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["keys"] = list(self.table.keys)
        state.update({name: getattr(self, name).clone() for name in _TENSORS})
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if list(state.get("keys", ())) != list(self.table.keys):
            raise CheckpointError("MdeNAS state does not match this space's decisions (different keys)")
        for name in _TENSORS:
            value = state.get(name)
            if not isinstance(value, torch.Tensor) or value.shape != self.mask.shape:
                found = "missing" if value is None else f"shape {tuple(getattr(value, 'shape', ()))}"
                raise CheckpointError(
                    f"MdeNAS state {name!r} is {found}, expected a tensor of shape {tuple(self.mask.shape)}"
                )
        super().load_state_dict(state)
        for name in _TENSORS:
            setattr(self, name, state[name].clone())  # epoch_accuracy_sum's setter drops what is pending
