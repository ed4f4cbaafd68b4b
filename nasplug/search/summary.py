"""How a search went, in a few lines: printed at its end (even with ``--quiet``) and kept as ``summary.json``.

The wall time is the sum of the epochs' times (a resumed run's included); the derived architecture's
accuracy is the one each epoch measured on the search split (absent with ``--no-eval-derived``).
Two warnings say when a search could not learn (docs/quickstart.md, "When the distribution does not
move"): epochs with fewer steps than a decision has choices, so that not every choice can even be
tried once an epoch; and a distribution that ends where it started: its entropy within
:data:`UNMOVED_TOLERANCE` (relative) of the uniform maximum, or no probability more than that away
from the first epoch's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from nasplug.runs.checkpoint import checkpoint_paths

SUMMARY_FILE = "summary.json"
UNMOVED_TOLERANCE = 1e-3
"""A distribution has "not moved" where its entropy is above (1 - this) × the uniform maximum, or where
no probability is more than this away from the first epoch's."""


@attrs.frozen
class RunSummary:
    """The end of a search: ``summary.json``'s content."""

    epochs: int
    wall_seconds: float
    final_derived_accuracy: float | None
    best_derived_accuracy: float | None
    best_epoch: int | None
    checkpoints: list[str]
    checkpoint_bytes: int
    warnings: list[str]

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    def lines(self, run_dir: Path) -> list[str]:
        """The summary as printed, one fact a line."""
        lines = [f"search finished: {self.epochs} epochs in {self.wall_seconds:.1f} s (the epochs' wall time)"]
        if self.final_derived_accuracy is None or self.best_epoch is None:
            lines.append("derived architecture: accuracy not evaluated (--no-eval-derived)")
        else:
            lines.append(f"derived architecture, search-split accuracy: final {self.final_derived_accuracy:.4f}, "
                         f"best {self.best_derived_accuracy:.4f} at epoch {self.best_epoch}")
        if self.checkpoints:
            lines.append(f"checkpoints kept in {run_dir / 'checkpoints'}: {', '.join(self.checkpoints)} "
                         f"({self.checkpoint_bytes / 1e6:.1f} MB); --resume needs only the newest "
                         f"(--keep-checkpoints 1 keeps only it)")
        lines += [f"warning: {warning}" for warning in self.warnings]
        return lines


def summarise(
    history: Sequence[Mapping[str, Any]], run_dir: Path, learns_distribution: bool = True
) -> RunSummary:
    """The summary of a search whose epochs are ``history`` and whose folder is ``run_dir``; a controller
    that does not learn its distribution (``Controller.learns_distribution``) gets no "not moved" warning."""
    scored = [record for record in history if record.get("derived_accuracy") is not None]
    best = max(scored, key=lambda record: record["derived_accuracy"], default=None)
    kept = checkpoint_paths(run_dir)
    return RunSummary(
        epochs=len(history),
        wall_seconds=round(sum(float(record.get("seconds", 0.0)) for record in history), 3),
        final_derived_accuracy=scored[-1]["derived_accuracy"] if scored else None,
        best_derived_accuracy=None if best is None else best["derived_accuracy"],
        best_epoch=None if best is None else int(best["epoch"]),
        checkpoints=[path.name for path in kept],
        checkpoint_bytes=sum(path.stat().st_size for path in kept),
        warnings=[warning for warning in (too_few_steps(history), learns_distribution and unmoved(history))
                  if warning],
    )


def too_few_steps(history: Sequence[Mapping[str, Any]]) -> str | None:
    """A warning where an epoch had fewer steps than the largest decision has choices (None: enough)."""
    if not history or not history[-1].get("distribution") or "steps" not in history[-1]:
        return None
    steps = min(int(record["steps"]) for record in history if "steps" in record)
    choices = max(len(probabilities) for probabilities in history[-1]["distribution"].values())
    if steps >= choices:
        return None
    return (f"{steps} step(s) per epoch, fewer than the {choices} choices of a decision: the controller cannot "
            f"try every choice once an epoch, so its distribution barely moves; use more training images, a "
            f"smaller --batch-size or a smaller search split")


def unmoved(history: Sequence[Mapping[str, Any]]) -> str | None:
    """A warning where the final distribution is still uniform, or still the first epoch's (None: it moved)."""
    if not history or not history[-1].get("distribution"):
        return None
    last = history[-1]
    uniform = last.get("entropy") is not None and last["entropy"] >= (1 - UNMOVED_TOLERANCE) * last["entropy_max"]
    first = history[0].get("distribution")  # a record restored from elsewhere may lack it
    same = len(history) > 1 and bool(first) and all(
        abs(a - b) <= UNMOVED_TOLERANCE
        for key, probabilities in last["distribution"].items()
        for a, b in zip(probabilities, first.get(key, []), strict=False))
    if not (uniform or same):
        return None
    state = "still (nearly) uniform" if uniform else f"the same as after epoch {history[0]['epoch']}"
    return (f"the distribution has not moved: after epoch {last['epoch']} it is {state}, so the derived "
            f"architecture comes from a tie-break, not from anything learned")
