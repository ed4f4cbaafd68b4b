"""A search's history as pictures: choice probabilities over epochs, entropy and accuracy curves.

Read from ``history.jsonl`` records (see :mod:`nasplug.runs.history`). A pruning
event is a choice whose probability drops to exactly 0 after being positive, in a run whose
controller prunes (its records say ``prunes``: EoiNAS); both pictures mark them. A controller that
only clips a probability at 0 (MdeNAS) prunes nothing, and nothing is marked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from nasplug.runs.history import normalised_entropy, uniform_entropy

HEATMAP_COLUMNS = 7


@attrs.frozen
class Pruning:
    """Choice ``choice`` of decision ``key`` has probability 0 from epoch ``epoch`` on."""

    epoch: int
    key: str
    choice: int


def choice_labels(records: Sequence[Mapping[str, Any]], key: str, count: int) -> list[str]:
    """The choice names of ``key`` from the history (indices for histories written before names were)."""
    names = records[-1].get("choices", {}).get(key)
    return list(names) if names and len(names) == count else [str(index) for index in range(count)]


def probability_table(records: Sequence[Mapping[str, Any]], key: str) -> np.ndarray:
    """choices × epochs probabilities of decision ``key``."""
    return np.array([record["distribution"][key] for record in records], dtype=float).T


def prunings(records: Sequence[Mapping[str, Any]]) -> list[Pruning]:
    """Every choice whose probability becomes exactly 0 after having been positive, where the controller
    prunes (the records' ``prunes``); none otherwise."""
    events: list[Pruning] = []
    if not records or not records[-1].get("prunes", False):
        return events
    for key in records[0]["distribution"]:
        table = probability_table(records, key)
        for choice, row in enumerate(table):
            for before, after, record in zip(row[:-1], row[1:], records[1:]):
                if before > 0 and after == 0:
                    events.append(Pruning(int(record["epoch"]), key, choice))
    return events


def distribution_figure(records: Sequence[Mapping[str, Any]], title: str) -> Figure:
    """One small heatmap per decision: its choices (named) × epochs, coloured by probability."""
    keys = list(records[-1]["distribution"])
    epochs = [int(record["epoch"]) for record in records]
    columns = min(HEATMAP_COLUMNS, len(keys))
    rows = math.ceil(len(keys) / columns)
    longest = max(len(choice_labels(records, key, len(records[-1]["distribution"][key]))) for key in keys)
    figure = Figure(figsize=(2.3 * columns + 1.6, (0.16 * longest + 0.75) * rows + 0.9), layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False, sharex=True)).ravel()
    pruned = {(event.key, event.choice): event.epoch for event in prunings(records)}
    derived = records[-1].get("derived", {})
    # one colour scale for every panel, ending at the run's largest probability: early, near-uniform
    # epochs still show contrast, and a colour means the same probability in a block of 6 or 7 choices
    scale = Normalize(vmin=0.0, vmax=max(max(record["distribution"][key]) for record in records for key in keys))
    image = None
    for index, (ax, key) in enumerate(zip(axes, keys)):
        table = probability_table(records, key)
        labels = choice_labels(records, key, len(table))
        image = ax.imshow(table, aspect="auto", cmap="viridis", norm=scale, interpolation="nearest",
                          extent=(epochs[0] - 0.5, epochs[-1] + 0.5, len(labels) - 0.5, -0.5))
        for choice in derived.get(key, []):  # the final derived choice: an outlined box around its row's last cell
            ax.add_patch(Rectangle((epochs[-1] - 0.5, choice - 0.5), 1, 1, fill=False, edgecolor="white",
                                   linewidth=1.5))
        ax.set_title(key, fontsize=8)
        ax.set_yticks(range(len(labels)))
        first_column = index % columns == 0
        ax.set_yticklabels(labels if first_column or not _same_labels(records, keys) else [], fontsize=6)
        ax.tick_params(axis="x", labelsize=6)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
        for (pruned_key, choice), epoch in pruned.items():
            if pruned_key == key:
                ax.plot(epoch, choice, marker="x", color="red", markersize=5)
    for ax in axes[len(keys):]:
        ax.axis("off")
    for ax in axes[max(0, len(keys) - columns):len(keys)]:
        ax.set_xlabel("epoch", fontsize=7)
    if image is not None:
        bar = figure.colorbar(image, ax=axes.tolist(), shrink=0.6, pad=0.01)
        bar.set_label("probability")
    notes = ["white box: the derived architecture's choice"] if derived else []
    if pruned:
        notes.append("red x: the controller pruned the choice there")
    note = f"\n({'; '.join(notes)})" if notes else ""
    figure.suptitle(f"{title}: probability of every choice per decision over epochs{note}", fontsize=11)
    return figure


def _same_labels(records: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> bool:
    """True when every decision has the same choice names: then only the first column needs them."""
    labels = {tuple(choice_labels(records, key, len(records[-1]["distribution"][key]))) for key in keys}
    return len(labels) == 1


def _plot_recorded(ax: Any, records: Sequence[Mapping[str, Any]], epochs: Sequence[int],
                   series: Sequence[tuple[str, str]]) -> None:
    """One line per (record key, label) that some record holds; NaN where a record lacks it."""
    for key, label in series:
        values = [record.get(key) for record in records]
        if any(value is not None for value in values):
            ax.plot(epochs, [math.nan if v is None else v for v in values], marker="o", markersize=3, label=label)


def _loss_and_rate(records: Sequence[Mapping[str, Any]], epochs: Sequence[int], loss: Any, rate: Any) -> None:
    """The supernet's mean training and search-split losses, and the weights' learning rate, per epoch."""
    _plot_recorded(loss, records, epochs, (("train_loss", "train (supernet, sampled paths)"),
                                           ("search_loss", "search split (sampled paths)")))
    loss.set_xlabel("epoch")
    loss.set_ylabel("cross-entropy")
    loss.set_title("loss")
    rate.plot(epochs, [record.get("lr", math.nan) for record in records], marker="o", markersize=3,
              label="supernet weights")
    rate.set_xlabel("epoch")
    rate.set_ylabel("learning rate")
    rate.set_title("learning rate at the epoch's end (the next epoch's)")


def _benchmark_curves(records: Sequence[Mapping[str, Any]]) -> dict[str, list[float]]:
    """Each tabulated accuracy of the derived genotype (``record["benchmark"]``) per epoch; NaN where absent."""
    names = [name for name in records[-1].get("benchmark", {}) if "accuracy" in name]
    return {name: [float(record.get("benchmark", {}).get(name, math.nan)) for record in records]
            for name in names}


def curves_figure(records: Sequence[Mapping[str, Any]], title: str) -> Figure:
    """Entropy over its uniform maximum and the accuracies per epoch (top), the losses and the learning
    rate (bottom); pruning epochs marked (red lines).

    Where the space has a tabular benchmark, a third panel draws the derived genotype's tabulated
    accuracies per epoch: the true quality of what the search would return at that epoch.
    """
    epochs = [int(record["epoch"]) for record in records]
    benchmark = _benchmark_curves(records)
    figure = Figure(figsize=(16 if benchmark else 11, 8), layout="constrained")
    grid = figure.subplots(2, 3 if benchmark else 2)
    left, right = grid[0][0], grid[0][1]
    loss, rate = grid[1][0], grid[1][1]
    panels = [*grid[0], loss, rate]
    if benchmark:
        figure.delaxes(grid[1][2])
    _loss_and_rate(records, epochs, loss, rate)
    if all(record.get("distribution") for record in records):
        ceiling = uniform_entropy(records[-1]["distribution"])
        left.plot(epochs, normalised_entropy(records), marker="o", markersize=3, label="entropy / uniform maximum")
        left.axhline(1.0, color="#888888", linestyle="--", linewidth=1,
                     label=f"uniform maximum = {ceiling:.2f} nats")
        left.set_ylim(0, 1.05)
    left.set_xlabel("epoch")
    left.set_ylabel("normalised entropy")
    left.set_title("entropy of the distribution")
    _plot_recorded(right, records, epochs, (("train_accuracy", "train (supernet, sampled paths)"),
                                            ("search_accuracy", "search split (sampled paths)"),
                                            ("derived_accuracy", "derived architecture, search split")))
    right.set_xlabel("epoch")
    right.set_ylabel("accuracy")
    right.set_ylim(0, 1)
    right.set_title("accuracy")
    if benchmark:
        for name, values in benchmark.items():
            panels[2].plot(epochs, values, marker="o", markersize=3, label=name)
        panels[2].set_xlabel("epoch")
        panels[2].set_ylabel("tabulated value")
        panels[2].set_title("derived genotype in the benchmark's table")
    events = prunings(records)
    for epoch in sorted({event.epoch for event in events}):  # only where the controller prunes (EoiNAS)
        count = sum(event.epoch == epoch for event in events)
        for ax in panels:
            ax.axvline(epoch, color="red", alpha=0.4, linewidth=1)
        left.annotate(f"{count} choices pruned", (epoch, 0.5), fontsize=7, color="red", rotation=90,
                      va="center", ha="right")
    for ax in panels:
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="best")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    figure.suptitle(title, fontsize=11)
    return figure
