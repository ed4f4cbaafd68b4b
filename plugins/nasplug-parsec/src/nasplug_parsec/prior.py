"""PARSEC's prior over architectures: one independent categorical per decision, parameterised by logits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from nasplug import Architecture, Decision

_LISTED = 6  # names shown in a mismatch message before "(N more)"


class CategoricalPrior:
    """p(α|π) = Π_d softmax(π_d)[α_d] over the decisions of one factorisation (paper Eq. 4–5).

    ``logits[key]`` is π_d, a float64 vector with one entry per choice. The
    tensors are updated in place, so an optimizer built on them stays valid
    across checkpoint loads and transfers.
    """

    def __init__(self, decisions: Sequence[Decision]) -> None:
        self.decisions = tuple(decisions)
        # π = 0: every architecture is equally likely before any evidence.
        self.logits = {d.key: torch.zeros(len(d), dtype=torch.float64) for d in self.decisions}

    def probabilities(self) -> dict[str, torch.Tensor]:
        return {key: torch.softmax(logits, dim=0) for key, logits in self.logits.items()}

    def sample(self, count: int, generator: torch.Generator) -> list[Architecture]:
        """``count`` independent single-path draws α_k ~ p(α|π)."""
        draws = {
            key: torch.multinomial(probs, count, replacement=True, generator=generator)
            for key, probs in self.probabilities().items()
        }
        return [Architecture.single_path({key: int(d[k]) for key, d in draws.items()}) for k in range(count)]

    def choices(self, samples: Sequence[Architecture]) -> dict[str, torch.Tensor]:
        """The index each sample chose, per decision: an int64 vector of length K."""
        return {key: torch.tensor([sample.choice(key) for sample in samples]) for key in self.logits}

    def mismatches(self, logits: Mapping[str, object]) -> list[str]:
        """What keeps ``logits`` from being this prior's π: missing/unexpected keys, wrong sizes."""
        problems = []
        missing = [key for key in self.logits if key not in logits]
        unexpected = [key for key in logits if key not in self.logits]
        if missing:
            problems.append(f"missing decisions {_listing(missing)}")
        if unexpected:
            problems.append(f"unexpected decisions {_listing(unexpected)}")
        for key, mine in self.logits.items():
            theirs = logits.get(key)
            if key not in logits or (isinstance(theirs, torch.Tensor) and theirs.shape == mine.shape):
                continue
            found = f"shape {tuple(theirs.shape)}" if isinstance(theirs, torch.Tensor) else "no tensor"
            problems.append(f"{key!r} has {found}, expected {len(mine)} choices")
        return problems

    def assign(self, logits: Mapping[str, torch.Tensor]) -> None:
        """Copy π in place (call :meth:`mismatches` first)."""
        for key, mine in self.logits.items():
            mine.copy_(logits[key])

    def state(self) -> dict[str, torch.Tensor]:
        return {key: logits.clone() for key, logits in self.logits.items()}


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(repr(name) for name in names[:_LISTED])
    return shown if len(names) <= _LISTED else f"{shown} ({len(names) - _LISTED} more)"
