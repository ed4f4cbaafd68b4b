"""A cost target any controller searches under: the engine scores each sample's feedback before the controller.

With ``--target latency=5ms --cost-model NAME`` the engine prices every sample with the cost model
and hands the controller feedback scored by MnasNet's reward (Tan et al., CVPR 2019, Eq. 2)

    reward = accuracy · (cost / target)^w,   w = α if cost ≤ target else β,

``soft`` rule: α = β = −0.07 (MnasNet §3, its soft constraint); ``hard`` rule: α = 0, β = −1 (MnasNet
§3's hard constraint: no reward for being under the target, a steep one for being over). The same
factor enters every field a controller may learn from, so no controller changes its code:

* ``accuracy`` becomes the reward (MdeNAS's H^a, EoiNAS's C^a, the random baseline's scores);
* ``log_likelihood`` gains ``B · w · log(cost / target)``: each of the batch's B likelihoods is
  multiplied by the reward's factor, so PARSEC's importance weights favour the same samples;
* ``loss_tensor``, where the sample carries a graph to the controller, gains a term with value 0 whose
  gradient is exactly that of ``−w · log E[cost]`` (ProxylessNAS §3.3's expected latency), with

      E[cost] = c(s) + Σ_decisions Σ_k p_k · (c_k − c(s)),

  s the sample's single-path architecture, c_k the cost of s with the decision's choice swapped for k
  (:meth:`~nasplug.core.cost.CostModel.decision_costs`) and p the controller's probabilities: the
  sample's ``probabilities`` (EoiNAS: β = softmax(α), a pruned op at p = 0), else, for a decision run
  as a mixture of several gated paths (DARTS), the gates. For an additive cost model (a lookup
  table, parameters) this is Σ_k p_k c_k summed over the decisions, the expected cost exactly; for a
  non-additive one (nas-bench-201's table) it is its linearisation around s. A decision with a single
  straight-through gate and no probabilities carries no cost gradient (its gate's gradient holds only
  the drawn op's share).

The raw accuracy, the cost and the reward are recorded in the history; without a target nothing here
runs and a history is what it was. docs/hardware-aware-search.md says how each controller takes it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import attrs
import torch

from nasplug.core.architecture import Architecture, Feedback, GatedChoice
from nasplug.core.cost import QUANTITIES, CostError, CostModel
from nasplug.plugin.errors import guard_plugin

UNITS = {
    "latency": {"ms": 1.0, "s": 1000.0, "us": 1e-3},
    "params": {"M": 1.0, "K": 1e-3, "G": 1e3},
    "madds": {"M": 1.0, "K": 1e-3, "G": 1e3},
}
"""The units a target may be given in, as multiples of the cost models' unit (:data:`QUANTITIES`)."""

RULES = {"soft": (-0.07, -0.07), "hard": (0.0, -1.0)}
"""MnasNet's exponents (α below or at the target, β above it) for each rule."""

TARGET_METRICS = ("search_cost", "search_reward")
"""What a step measures beside STEP_METRICS where a target is set: the samples' mean cost and reward."""

_TARGET = re.compile(r"\s*([a-z]+)\s*=\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z]*)\s*")


@attrs.frozen
class Target:
    """A bound on one quantity, in the unit cost models report it in (ms, millions)."""

    quantity: str
    value: float
    text: str

    @property
    def unit(self) -> str:
        return QUANTITIES[self.quantity]


def parse_target(text: str) -> Target:
    """``latency=5ms``, ``params=3.2M``, ``madds=600M``: the unit is required and converted; else a CostError."""
    match = _TARGET.fullmatch(text)
    if match is None:
        raise CostError(f"--target {text!r}: expected QUANTITY=VALUE UNIT, e.g. latency=5ms, params=3M, "
                        f"madds=600M")
    quantity, value, unit = match.groups()
    if quantity not in UNITS:
        raise CostError(f"--target {text!r}: unknown quantity {quantity!r}; one of {', '.join(UNITS)}")
    if unit not in UNITS[quantity]:
        given = f"unit {unit!r}" if unit else "no unit"
        raise CostError(f"--target {text!r}: {given} for {quantity}; give one of {', '.join(UNITS[quantity])} "
                        f"(units are never assumed)")
    number = float(value) * UNITS[quantity][unit]
    if not number > 0 or not math.isfinite(number):
        raise CostError(f"--target {text!r}: the target must be a positive number")
    return Target(quantity, number, text)


def exponent(rule: str, cost: float, target: float) -> float:
    """MnasNet's w for ``cost`` against ``target`` under ``rule`` (Eq. 2)."""
    below, above = RULES[rule]
    return below if cost <= target else above


@attrs.define
class CostTarget:
    """The run's target, cost model and rule: scores a step's feedback, prices a derived genotype."""

    target: Target
    model: CostModel
    model_name: str
    rule: str = "soft"
    owner: str = "the cost model's plugin"
    """Who provides the model (``describe(provider, "plugin")``): named when its code fails."""

    def __attrs_post_init__(self) -> None:
        if self.rule not in RULES:
            raise CostError(f"--target-rule {self.rule!r}: one of {', '.join(RULES)}")
        if self.model.quantity != self.target.quantity:
            raise CostError(
                f"--target {self.target.text} bounds {self.target.quantity}, but cost model {self.model_name!r} "
                f"measures {self.model.quantity} ({self.model.unit}): a unit mismatch")

    def factor(self, cost: float) -> float:
        """(cost / target)^w: what multiplies an accuracy into a reward."""
        return (cost / self.target.value) ** exponent(self.rule, cost, self.target.value)

    def price(self, architecture: Architecture) -> float:
        cost = guard_plugin(self.owner, f"cost model {self.model_name!r}.cost", lambda: self.model.cost(architecture))
        if not (_is_number(cost) and math.isfinite(cost) and cost > 0):
            raise CostError(f"{self.owner}: cost model {self.model_name!r} priced a sample at {cost!r} "
                            f"{self.model.unit}; a cost must be a positive number")
        return float(cost)

    def decision_costs(self, reference: Architecture) -> dict[str, list[float]]:
        """The model's :meth:`~nasplug.core.cost.CostModel.decision_costs`, guarded: numbers, or one line."""
        table = guard_plugin(self.owner, f"cost model {self.model_name!r}.decision_costs",
                             lambda: self.model.decision_costs(reference))
        if not isinstance(table, dict) or not all(
                isinstance(row, (list, tuple)) and all(_is_number(c) and math.isfinite(c) for c in row)
                for row in table.values()):
            raise CostError(f"{self.owner}: cost model {self.model_name!r}.decision_costs returned "
                            f"{type(table).__name__} {str(table)[:80]}, expected a dict of decision key -> list "
                            f"of finite numbers")
        return {key: [float(c) for c in row] for key, row in table.items()}

    def score(self, samples: Sequence[Architecture], feedback: Sequence[Feedback]) -> tuple[list[Feedback],
                                                                                          list[float]]:
        """The feedback controllers receive (scored as the module says) and each sample's cost."""
        scored, costs = [], []
        for sample, result in zip(samples, feedback):
            reference = _strongest_path(sample)
            cost = self.price(reference)
            w = exponent(self.rule, cost, self.target.value)
            loss_tensor = result.loss_tensor
            expected = self.expected_cost(sample, reference, cost) if loss_tensor is not None and w != 0 else None
            if expected is not None:
                log_expected = torch.log(expected).to(loss_tensor.device, loss_tensor.dtype)
                loss_tensor = loss_tensor - w * (log_expected - log_expected.detach())
            scored.append(attrs.evolve(
                result,
                accuracy=result.accuracy * self.factor(cost),
                log_likelihood=result.log_likelihood + result.batch_size * w * math.log(cost / self.target.value),
                loss_tensor=loss_tensor,
            ))
            costs.append(cost)
        return scored, costs

    def expected_cost(self, sample: Architecture, reference: Architecture, cost: float) -> torch.Tensor | None:
        """E[cost] under the controller's probabilities (module docstring), with their graph; None where
        no decision of ``sample`` has probabilities that require grad."""
        table = self.decision_costs(reference)
        terms = []
        for key, paths in sample.paths.items():
            row = table.get(key)
            if not row:
                continue
            probabilities = sample.probabilities.get(key)
            if probabilities is not None:
                if tuple(probabilities.shape) != (len(row),):
                    raise CostError(f"the sample's probabilities for {key!r} have shape {tuple(probabilities.shape)}"
                                    f", expected ({len(row)},): one per choice of the decision")
                if probabilities.requires_grad:
                    deltas = torch.tensor([c - cost for c in row], dtype=probabilities.dtype,
                                          device=probabilities.device)
                    terms.append((probabilities * deltas).sum())
            elif len(paths) > 1:  # a mixture: its gates are the probabilities
                terms += [path.gate * (row[path.choice] - cost) for path in paths
                          if isinstance(path.gate, torch.Tensor) and path.gate.requires_grad]
        return cost + sum(terms[1:], terms[0]) if terms else None


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _strongest_path(sample: Architecture) -> Architecture:
    """The single-path architecture a sample stands for: per key its only path (single-path and
    straight-through samples) or, in a mixture, the path of the largest gate."""
    return Architecture.single_path({key: paths[0].choice if len(paths) == 1 else _argmax(paths).choice
                                     for key, paths in sample.paths.items() if paths})


def _argmax(paths: Sequence[GatedChoice]) -> GatedChoice:
    gates = [float(p.gate.detach()) if isinstance(p.gate, torch.Tensor) else float(p.gate or 0.0) for p in paths]
    return paths[gates.index(max(gates))]
