"""The data model shared by spaces, controllers and the engine.

A space exposes its choices as :class:`Decision`\\ s; a controller answers with
:class:`Architecture`\\ s (what the supernet runs this step); the engine reports
:class:`Feedback` for each; at the end the controller derives a genotype, whose
type belongs to the space (see ``nasplug.spaces``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import torch

from nasplug.core.errors import NasplugError


class ArchitectureError(NasplugError, ValueError):
    """An architecture, genotype or score table does not fit its space."""


def _choices_converter(choices: Iterable[str]) -> tuple[str, ...]:
    return tuple(choices)


@attrs.frozen
class Decision:
    """One categorical variable of a space: a stable key and its named choices.

    Keys are stable strings (``normal/edge 2<-0``, ``block 7``) so that
    checkpoints, histories and plots can refer to a decision across runs.
    """

    key: str
    choices: tuple[str, ...] = attrs.field(converter=_choices_converter)

    @choices.validator
    def _check_choices(self, _attribute: Any, value: tuple[str, ...]) -> None:
        if not value:
            raise ArchitectureError(f"decision {self.key!r} has no choices")
        if len(set(value)) != len(value):
            raise ArchitectureError(f"decision {self.key!r} repeats a choice: {value}")

    def __len__(self) -> int:
        return len(self.choices)

    def index(self, choice: str) -> int:
        """Position of ``choice``; a clear error if this decision has no such choice."""
        try:
            return self.choices.index(choice)
        except ValueError:
            raise ArchitectureError(
                f"{choice!r} is not a choice of {self.key!r}; choices: {', '.join(self.choices)}"
            ) from None


@attrs.frozen
class GatedChoice:
    """One executed choice of a decision, optionally scaled by a gate.

    ``gate`` is None for plain single-path sampling; a scalar tensor that
    requires grad for a straight-through Gumbel sample (GDAS, EoiNAS), so the
    forward runs only this choice but gradients reach the logits; a softmax
    weight for each choice of a DARTS-style mixture.
    """

    choice: int
    gate: torch.Tensor | float | None = attrs.field(default=None, eq=False)


def _paths_converter(
    paths: Mapping[str, Iterable[GatedChoice | int | tuple[int, Any]]],
) -> dict[str, tuple[GatedChoice, ...]]:
    converted = {}
    for key, entries in paths.items():
        items = []
        for entry in entries:
            if isinstance(entry, GatedChoice):
                items.append(entry)
            elif isinstance(entry, int):
                items.append(GatedChoice(entry))
            else:
                choice, gate = entry
                items.append(GatedChoice(int(choice), gate))
        converted[key] = tuple(items)
    return converted


@attrs.frozen
class Architecture:
    """What the supernet runs: for each decision key, the paths to execute.

    One path without a gate per key is a single-path architecture; one gated
    path is a straight-through sample; every choice with softmax gates is a
    DARTS mixture. A key that maps to no path (or is absent) contributes
    nothing (the space treats it as ``none``).
    """

    paths: dict[str, tuple[GatedChoice, ...]] = attrs.field(converter=_paths_converter)
    probabilities: dict[str, torch.Tensor] = attrs.field(factory=dict, eq=False, repr=False)
    """Optional, per key: the controller's probability of every choice of the decision (1-D, 0 for a pruned
    choice), with its graph to the controller's parameters. A cost target differentiates the expected
    cost Σ p·c through it (nasplug.search.target), which a straight-through gate alone cannot give.
    Belongs to one step: not serialised, dropped by :meth:`detached`."""

    @classmethod
    def single_path(cls, choices: Mapping[str, int]) -> Architecture:
        """One ungated choice per decision, the form MdeNAS, PARSEC and random sample."""
        return cls({key: (GatedChoice(int(index)),) for key, index in choices.items()})

    @classmethod
    def from_names(cls, decisions: Sequence[Decision], names: Mapping[str, str]) -> Architecture:
        """Single path from choice names, validated against ``decisions``."""
        by_key = {d.key: d for d in decisions}
        unknown = sorted(set(names) - set(by_key))
        if unknown:
            raise ArchitectureError(f"unknown decision keys: {', '.join(unknown)}")
        return cls.single_path({key: by_key[key].index(name) for key, name in names.items()})

    def choices(self) -> dict[str, tuple[int, ...]]:
        """The executed choice indices per key, gates dropped."""
        return {key: tuple(p.choice for p in paths) for key, paths in self.paths.items()}

    def choice(self, key: str) -> int:
        """The single choice of ``key``; an error if it has none or several."""
        paths = self.paths.get(key, ())
        if len(paths) != 1:
            raise ArchitectureError(f"decision {key!r} has {len(paths)} paths, expected one")
        return paths[0].choice

    def gates(self) -> list[torch.Tensor]:
        """The tensor gates, in key order (what autograd must reach for GDAS-style samples)."""
        return [
            p.gate for paths in self.paths.values() for p in paths if isinstance(p.gate, torch.Tensor)
        ]

    def detached(self) -> Architecture:
        """The same paths with tensor gates detached: the weight step must not build a graph to α."""
        return Architecture(
            {
                key: tuple(
                    GatedChoice(p.choice, p.gate.detach()) if isinstance(p.gate, torch.Tensor) else p
                    for p in paths
                )
                for key, paths in self.paths.items()
            }
        )

    def to(self, device: torch.device) -> Architecture:
        """The same paths with the tensor gates on ``device``, moved in one copy.

        A controller builds its gates on the host; used on a GPU one by one, each would
        copy its gradient back to the host in the backward, a wait for the device per gate.
        Moved together, the backward copies all their gradients in one transfer. Gates
        already on ``device`` (a CPU run) are left as they are.
        """
        unique: dict[int, torch.Tensor] = {}
        for gate in self.gates():
            if gate.device != torch.device(device):
                unique.setdefault(id(gate), gate)
        if not unique:
            return self
        gates = list(unique.values())
        flat = torch.cat([gate.reshape(-1) for gate in gates]).to(device, non_blocking=True)
        pieces = flat.split([gate.numel() for gate in gates])
        moved = {
            key: piece.view(gate.shape).to(gate.dtype)
            for (key, gate), piece in zip(unique.items(), pieces)
        }
        return Architecture(
            {
                key: tuple(GatedChoice(p.choice, moved[id(p.gate)]) if id(p.gate) in moved else p for p in paths)
                for key, paths in self.paths.items()
            },
            self.probabilities,
        )

    def requires_grad(self) -> bool:
        """Whether any gate carries a gradient back to a controller's parameters."""
        return any(g.requires_grad for g in self.gates())

    def validate(self, decisions: Sequence[Decision]) -> None:
        """Raise :class:`ArchitectureError` naming the first key or index that does not fit."""
        by_key = {d.key: d for d in decisions}
        for key, paths in self.paths.items():
            if key not in by_key:
                raise ArchitectureError(f"unknown decision key {key!r}")
            for path in paths:
                if not 0 <= path.choice < len(by_key[key]):
                    raise ArchitectureError(
                        f"choice {path.choice} out of range for {key!r} ({len(by_key[key])} choices)"
                    )

    def to_json(self, decisions: Sequence[Decision]) -> dict[str, list[str]]:
        """Choice names per key (gates are not serialised: they belong to one step)."""
        by_key = {d.key: d for d in decisions}
        return {key: [by_key[key].choices[p.choice] for p in paths] for key, paths in self.paths.items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Sequence[str]], decisions: Sequence[Decision]) -> Architecture:
        by_key = {d.key: d for d in decisions}
        paths = {}
        for key, names in data.items():
            if key not in by_key:
                raise ArchitectureError(f"unknown decision key {key!r}")
            paths[key] = tuple(GatedChoice(by_key[key].index(name)) for name in names)
        return cls(paths)


def _device_scalar(value: torch.Tensor | float) -> torch.Tensor:
    """A detached 0-d tensor: the engine's own (float32 loss, on the run's device) or a number (float64)."""
    if isinstance(value, torch.Tensor):
        if value.dim() != 0:
            raise ArchitectureError(f"feedback values are 0-d tensors, got shape {tuple(value.shape)}")
        return value.detach()
    return torch.tensor(float(value), dtype=torch.float64)


@attrs.frozen(eq=False)
class Feedback:
    """What the engine measured for one sampled architecture on one search batch.

    ``loss`` and ``accuracy`` (the means over the batch) and ``log_likelihood``
    (the summed log p(y|x) over the batch, PARSEC's importance weight in log
    space) are detached 0-d tensors on the run's device, so the engine makes
    them without waiting for the device; numbers given here become float64
    tensors on the CPU. ``float(f.accuracy)`` works but waits for the device
    each time: a controller that needs host numbers gets them for all samples
    at once with :func:`host_floats` or :class:`PendingValues`.
    ``loss_tensor`` keeps the autograd graph to the sample's gates when they
    require grad (EoiNAS), so the controller can backpropagate into its own
    parameters; it is None otherwise.
    """

    loss: torch.Tensor = attrs.field(converter=_device_scalar)
    accuracy: torch.Tensor = attrs.field(converter=_device_scalar)
    log_likelihood: torch.Tensor = attrs.field(converter=_device_scalar)
    batch_size: int
    loss_tensor: torch.Tensor | None = attrs.field(default=None, repr=False)


def host_floats(values: Sequence[torch.Tensor | float]) -> list[float]:
    """Python floats of device scalars, fetched in one transfer: one wait for the device, not one each."""
    if not values:
        return []
    return torch.stack([torch.as_tensor(value) for value in values]).tolist()


def feedback_values(feedback: Sequence[Feedback], field: str) -> list[float]:
    """A field (``"loss"``, ``"accuracy"``, ``"log_likelihood"``) of all samples: floats, one transfer."""
    return host_floats([getattr(result, field) for result in feedback])


class PendingValues:
    """Device scalars a controller folds into host tables at its own cadence (an epoch end, a derivation).

    :meth:`add` keeps a value beside what it belongs to (a choice mask, table indices) without
    waiting for the device; :meth:`take` returns them all as host floats, in the order they were
    added, in one transfer. Folding them then performs the same host arithmetic, in the same
    order, as folding each value when it arrived: the results are bit for bit the same.
    """

    def __init__(self) -> None:
        self._items: list[tuple[Any, torch.Tensor | float]] = []

    def __len__(self) -> int:
        return len(self._items)

    def add(self, target: Any, value: torch.Tensor | float) -> None:
        self._items.append((target, value))

    def take(self) -> list[tuple[Any, float]]:
        """Every ``(target, value)`` added since the last take, values as host floats; empties the queue."""
        items, self._items = self._items, []
        return list(zip((target for target, _ in items), host_floats([value for _, value in items])))


@attrs.frozen
class Step:
    """Where the search is: passed to every per-step hook."""

    epoch: int
    index: int
    steps_per_epoch: int
    epochs: int
    epoch_end: bool = False

    @property
    def global_step(self) -> int:
        return self.epoch * self.steps_per_epoch + self.index

    @property
    def progress(self) -> float:
        """Fraction of the whole search done after this step, in (0, 1]."""
        return (self.global_step + 1) / (self.epochs * self.steps_per_epoch)


def entropy(probabilities: Mapping[str, Sequence[float]]) -> float:
    """Sum over decisions of the Shannon entropy (nats) of each categorical."""
    total = 0.0
    for probs in probabilities.values():
        total -= sum(p * math.log(p) for p in probs if p > 0)
    return total
