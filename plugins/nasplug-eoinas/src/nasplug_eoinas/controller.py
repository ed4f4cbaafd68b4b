"""The EoiNAS controller: GDAS sampling of α, the importance indicator, gradual pruning.

Per step (Alg. 1): one op per decision is drawn by straight-through hard
Gumbel-softmax (Eq. 4–5), the engine validates and trains that child, the
validation loss is backpropagated into α only and Adam takes a step. Once α
learns, each drawn op's C^e (training iterations since the last prune) grows by
one and its C^a becomes the step's validation accuracy in percent (Eq. 6, read
as the authors' code reads it). At the chosen epoch ends the op with the lowest
indicator I (Eq. 7) on every decision is pruned for good and C^e restarts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from nasplug import (
    Architecture,
    CheckpointError,
    Controller,
    Feedback,
    GatedChoice,
    Genotype,
    NasplugError,
    Option,
    OptionError,
    PendingValues,
    SearchSpace,
    Step,
    hookimpl,
)
from nasplug_eoinas import importance
from nasplug_eoinas.gumbel import hard_gumbel_sample
from nasplug_eoinas.schedule import anneal_progress, is_prune_epoch, temperature

ADAM_BETAS = (0.5, 0.999)  # the paper's (and DARTS') Adam momentum for α
ZERO_OP = "none"  # DARTS's zero op: derivation never picks it, so pruning never leaves it alone
PERCENT = 100.0  # C^a is an accuracy in percent, the unit of the authors' code (Eq. 6)
# A state saved before the Eq. 6 reading records no "indicator": its run read C^a/C^e as the mean
# and annealed to GDAS's 0.1 unless told otherwise; a resume keeps what the run started with.
EARLIER_DEFAULTS = {"indicator": "mean", "tau_min": 0.1}
READINGS = ("eq6", "mean")
"""How C^a/C^e is read: Eq. 6 as the authors' code computes it, or nasplug's earlier mean accuracy."""


class FeedbackError(NasplugError, RuntimeError):
    """The engine gave no validation loss with a graph to the gates EoiNAS learns from."""


class EoiNAS(Controller):
    """EoiNAS: learns α by Gumbel straight-through on the validation loss, prunes by importance."""

    description = "EoiNAS: GDAS sampling, operation-importance indicator, gradual operation pruning"
    prunes = True  # a pruned op is out of `alive` for good (Alg. 1)
    options = {
        "warmup": Option(int, 20, "epochs that train the weights only, before α learns (Alg. 1)"),
        "interval": Option(int, 20, "epochs between prunes of the lowest-I op per decision (Alg. 1)"),
        "lambda": Option(float, 0.5, "weight λ of validation accuracy per training iteration in I (Eq. 7)"),
        "tau_max": Option(float, 5.0, "Gumbel-softmax temperature at the start of the search (Eq. 5)"),
        "tau_min": Option(float, 0.035, "temperature at the end: the paper's \"reduced to 0\" (§3.1), the authors' last T"),
        "arch_lr": Option(float, 3e-4, "Adam learning rate of α"),
        "arch_weight_decay": Option(float, 1e-3, "Adam weight decay of α"),
        "keep": Option(str, "none", "comma-separated choice names never pruned ('' prunes every choice)"),
        "indicator": Option(
            str,
            "eq6",
            "C^a/C^e of Eq. 6: eq6 = latest accuracy (%) over the iterations since the last prune, after "
            "warm-up; mean = the mean accuracy (fraction) over the whole search",
            choices=READINGS,
        ),
    }

    def __init__(self, space: SearchSpace, options: Mapping[str, Any], seed: int) -> None:
        super().__init__(space, options, seed)
        self._check_options()
        self.decisions = space.decisions()
        self._rows = {decision.key: row for row, decision in enumerate(self.decisions)}
        width = max(len(decision) for decision in self.decisions)
        kept = self._kept_choices()
        # One padded [decisions, choices] table serves decisions of any size;
        # padding is never alive, so it is never drawn, scored or reported.
        self.alive = torch.tensor(
            [[i < len(d) for i in range(width)] for d in self.decisions], dtype=torch.bool
        )
        self.prunable = torch.tensor(
            [[i < len(d) and d.choices[i] not in kept for i in range(width)] for d in self.decisions],
            dtype=torch.bool,
        )
        self.zero = torch.tensor(
            [[i < len(d) and d.choices[i] == ZERO_OP for i in range(width)] for d in self.decisions],
            dtype=torch.bool,
        )
        # α starts at zero, as in the paper, so warm-up draws are uniform.
        self.alpha = torch.zeros(len(self.decisions), width, requires_grad=True)
        self.optimizer = torch.optim.Adam(
            [self.alpha],
            lr=self.config["arch_lr"],
            betas=ADAM_BETAS,
            weight_decay=self.config["arch_weight_decay"],
        )
        self.trained = torch.zeros(len(self.decisions), width, dtype=torch.float64)  # C^e since the last prune
        self._accuracy = torch.zeros(len(self.decisions), width, dtype=torch.float64)  # C^a, the latest
        # C^a's new values wait on the device until C^a is read (a prune, a derivation, a checkpoint).
        self.pending = PendingValues()

    def _check_options(self) -> None:
        config = self.config
        if config["warmup"] < 0:
            raise OptionError(f"option 'warmup' must be >= 0 epochs, got {config['warmup']}")
        if config["interval"] < 1:
            raise OptionError(f"option 'interval' must be >= 1 epoch, got {config['interval']}")
        for name in ("lambda", "arch_weight_decay"):
            if config[name] < 0:
                raise OptionError(f"option {name!r} must be >= 0, got {config[name]}")
        if config["arch_lr"] <= 0:
            raise OptionError(f"option 'arch_lr' must be > 0, got {config['arch_lr']}")
        if not 0 < config["tau_min"] <= config["tau_max"]:
            raise OptionError(
                f"options need 0 < tau_min <= tau_max, got tau_min={config['tau_min']}, "
                f"tau_max={config['tau_max']}"
            )

    def _kept_choices(self) -> set[str]:
        """Choice names never pruned; a name given explicitly must exist in the space (typo guard).

        The default, ``none``, is DARTS's zero op; spaces without it simply have nothing to keep.
        """
        kept = {name.strip() for name in self.config["keep"].split(",") if name.strip()}
        if self.config["keep"] != self.options["keep"].default:
            known = {choice for decision in self.decisions for choice in decision.choices}
            unknown = sorted(kept - known)
            if unknown:
                names = ", ".join(map(repr, unknown))
                raise OptionError(f"option 'keep': {names} is not a choice of space {self.space.name!r}")
        return kept

    # ------------------------------------------------------------------ distribution

    def _logits(self) -> torch.Tensor:
        """α with pruned ops and padding at −inf: removed from the softmax and from sampling."""
        return self.alpha.masked_fill(~self.alive, float("-inf"))

    def beta(self) -> torch.Tensor:
        """β = softmax(α) over the live ops of each decision; 0 for pruned ops."""
        with torch.no_grad():
            return torch.softmax(self._logits(), dim=-1)

    @property
    def accuracy(self) -> torch.Tensor:
        """C^a per op, its latest validation accuracy in percent: the pending values land first, in order."""
        latest = self.config["indicator"] == "eq6"
        for (row, choice), accuracy in self.pending.take():
            if latest:
                self._accuracy[row, choice] = PERCENT * accuracy
            else:  # the mean reading: C^a sums the fractions, so C^a/C^e is the mean accuracy
                self._accuracy[row, choice] += accuracy
        return self._accuracy

    def indicator(self) -> torch.Tensor:
        """I per op (Eq. 7), −inf for pruned ops and padding."""
        lam = self.config["lambda"]
        scores = importance.indicator(self.beta().double(), self.trained, self.accuracy, lam)
        return scores.masked_fill(~self.alive, float("-inf"))

    def _learns_alpha(self, step: Step) -> bool:
        return step.epoch >= self.config["warmup"]

    def _per_decision(self, table: torch.Tensor) -> dict[str, list[float]]:
        return {d.key: table[row, : len(d)].tolist() for row, d in enumerate(self.decisions)}

    # ------------------------------------------------------------------ hooks

    @hookimpl
    def sample_architecture(self, space: SearchSpace, step: Step) -> list[Architecture]:
        learning = self._learns_alpha(step)
        progress = anneal_progress(step, self.config["warmup"])
        tau = temperature(progress, self.config["tau_max"], self.config["tau_min"])
        logits = self._logits() if learning else self._logits().detach()
        index, hard = hard_gumbel_sample(logits, tau, self.generator)
        paths = {}
        for row, decision in enumerate(self.decisions):
            choice = int(index[row])
            # Warm-up trains weights only (Alg. 1): no gate, no graph to α.
            paths[decision.key] = (GatedChoice(choice, hard[row, choice] if learning else None),)
        # β with its graph to α, pruned ops at 0: what a cost target's expected cost Σ β·c differentiates.
        beta = torch.softmax(logits, dim=-1) if learning else None
        probabilities = {} if beta is None else {d.key: beta[row, : len(d)] for row, d in enumerate(self.decisions)}
        return [Architecture(paths, probabilities)]

    @hookimpl
    def record_feedback(
        self, space: SearchSpace, samples: Sequence[Architecture], feedback: Sequence[Feedback], step: Step
    ) -> None:
        for sample, result in zip(samples, feedback):
            if self._learns_alpha(step) or self.config["indicator"] == "mean":
                # Eq. 6 counts from the end of warm-up on, as the authors' code does.
                for key, paths in sample.paths.items():
                    for path in paths:
                        # Each sampled op is the one the engine trains this step.
                        self.trained[self._rows[key], path.choice] += 1
                        self.pending.add((self._rows[key], path.choice), result.accuracy)
            if sample.requires_grad():
                if result.loss_tensor is None:
                    raise FeedbackError(
                        "eoinas needs feedback.loss_tensor (the validation loss with its graph to the gates)"
                    )
                # Gradients of the validation loss go to α only (Eq. 3); weights train on the train split.
                (result.loss_tensor / len(samples)).backward(inputs=[self.alpha])

    @hookimpl
    def update_distribution(self, space: SearchSpace, step: Step) -> None:
        if self._learns_alpha(step):
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
        if step.epoch_end and is_prune_epoch(step.epoch + 1, self.config["warmup"], self.config["interval"]):
            self.alive = importance.prune_lowest(self.indicator(), self.alive, self.prunable, self.zero)
            if self.config["indicator"] == "eq6" and step.epoch + 1 < step.epochs:
                # C^e counts the iterations since the last prune; after the search's last prune
                # the derivation still reads the final interval's counts (the authors' code).
                self.trained.zero_()

    @hookimpl
    def derive_genotype(self, space: SearchSpace) -> Genotype:
        # The space applies its rule (darts-cell: 2 predecessors by best non-none I, then argmax).
        return space.genotype_from_scores(self._per_decision(self.indicator()))

    @hookimpl
    def report_distribution(self, space: SearchSpace) -> dict[str, list[float]]:
        return self._per_decision(self.beta())

    # ------------------------------------------------------------------ checkpoints

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.update(
            indicator=self.config["indicator"],
            tau_min=self.config["tau_min"],
            alpha=self.alpha.detach().clone(),
            alive=self.alive.clone(),
            trained=self.trained.clone(),
            accuracy=self.accuracy.clone(),
            optimizer=self.optimizer.state_dict(),
        )
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        # The state decides the reading and the anneal's end: a resume continues as the run began.
        if "indicator" in state:
            self.config["indicator"] = state["indicator"]
            self.config["tau_min"] = state.get("tau_min", self.config["tau_min"])
        else:
            self.config["indicator"] = EARLIER_DEFAULTS["indicator"]
            if self.config["tau_min"] == self.options["tau_min"].default:  # not chosen by the run
                self.config["tau_min"] = EARLIER_DEFAULTS["tau_min"]
        if self.config["indicator"] not in READINGS:
            raise CheckpointError(f"eoinas state has an unknown indicator reading {self.config['indicator']!r}")
        for name in ("alpha", "alive", "trained", "accuracy"):
            if name not in state:
                raise CheckpointError(f"eoinas state has no {name!r}: not a checkpoint of this controller")
            if tuple(state[name].shape) != tuple(self.alpha.shape):
                raise CheckpointError(
                    f"eoinas state {name!r} has shape {tuple(state[name].shape)}, this space needs "
                    f"{tuple(self.alpha.shape)}: the checkpoint is from a different space"
                )
        super().load_state_dict(state)
        with torch.no_grad():
            self.alpha.copy_(state["alpha"])
        self.alive = state["alive"].clone()
        self.trained = state["trained"].clone().double()
        self._accuracy = state["accuracy"].clone().double()
        self.pending = PendingValues()
        self.optimizer.load_state_dict(state["optimizer"])
