"""Several searches in one picture: ``nasplug plot RUN RUN ...`` overlays their curves (seeds, controllers).

One line per run in each panel: the distribution's entropy over its uniform maximum, the derived
architecture's search-split accuracy (the sampled paths' where it was not evaluated), and the
supernet's training loss, per epoch. Runs are named by their folder, with the differing settings
of their ``config.json`` (seed, controller, ...) where those differ.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from nasplug.runs.history import normalised_entropy

COMPARED_SETTINGS = ("controller", "space", "dataset", "seed", "epochs", "batch_size", "lr")
"""The settings a run's label shows where they differ between the runs compared."""


@attrs.frozen
class ComparedRun:
    """One run of a comparison: its label, epoch records and saved configuration."""

    name: str
    records: Sequence[Mapping[str, Any]]
    config: Mapping[str, Any]


def labels(runs: Sequence[ComparedRun]) -> list[str]:
    """Each run's name, with the compared settings whose values differ between the runs."""
    differing = [key for key in COMPARED_SETTINGS if len({repr(run.config.get(key)) for run in runs}) > 1]
    return [run.name + (f" ({', '.join(f'{key} {run.config.get(key)}' for key in differing)})" if differing else "")
            for run in runs]


def _series(records: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    return [math.nan if record.get(key) is None else float(record[key]) for record in records]


def _normalised_entropy(records: Sequence[Mapping[str, Any]]) -> list[float]:
    if not all(record.get("distribution") for record in records):
        return [math.nan] * len(records)
    return normalised_entropy(records)


def comparison_figure(runs: Sequence[ComparedRun]) -> Figure:
    """The runs' entropy, accuracy and training loss per epoch, one line (one colour) per run."""
    figure = Figure(figsize=(16, 4.6), layout="constrained")
    entropy_ax, accuracy_ax, loss_ax = figure.subplots(1, 3)
    evaluated = all(any(record.get("derived_accuracy") is not None for record in run.records) for run in runs)
    accuracy_key = "derived_accuracy" if evaluated else "search_accuracy"
    for run, label in zip(runs, labels(runs)):
        epochs = [int(record["epoch"]) for record in run.records]
        entropy_ax.plot(epochs, _normalised_entropy(run.records), marker="o", markersize=3, label=label)
        accuracy_ax.plot(epochs, _series(run.records, accuracy_key), marker="o", markersize=3, label=label)
        loss_ax.plot(epochs, _series(run.records, "train_loss"), marker="o", markersize=3, label=label)
    entropy_ax.set_ylim(0, 1.05)
    entropy_ax.set_title("entropy / uniform maximum")
    accuracy_ax.set_ylim(0, 1)
    accuracy_ax.set_title("derived architecture, search-split accuracy" if evaluated
                          else "search-split accuracy (sampled paths)")
    loss_ax.set_title("supernet training loss")
    for ax in (entropy_ax, accuracy_ax, loss_ax):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    accuracy_ax.legend(fontsize=8, loc="best")
    figure.suptitle(f"{len(runs)} searches compared", fontsize=11)
    return figure
