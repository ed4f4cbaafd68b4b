"""The performance-ranking hypothesis experiment (MdeNAS §5.2, Fig. 4), on any space.

MdeNAS rests on the hypothesis that architectures which validate better early in
training also end better, so early accuracies can rank them. The experiment:
sample N single-path architectures uniformly from a space, train each one's
standalone child for E epochs on the train split, record its validation accuracy
on the held-out split after every epoch, and measure with Kendall's τ how well
each epoch's ranking agrees with the final one. The paper reports a mean τ of
0.474 on CIFAR-10.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import torch
from scipy import stats
from torch import nn
from torch.nn import functional as F

from nasplug.arch import Architecture
from nasplug.checkpoint import atomic_write, write_json
from nasplug.data import load_dataset, make_loader, split_indices
from nasplug.errors import NasplugError
from nasplug.plugins import load_plugins
from nasplug.progress import Progress
from nasplug.runlock import contents, run_lock
from nasplug.search import resolve_device
from nasplug.space import SearchSpace

RESULT_FILE = "ranking.json"
PLOT_FILE = "ranking.png"


class RankingError(NasplugError, ValueError):
    """The ranking experiment cannot run with the given settings; the message says which."""


@attrs.frozen
class TrainingSettings:
    """How every sampled child is trained (the DARTS/MdeNAS search recipe)."""

    epochs: int
    batch_size: int
    lr: float = 0.025
    lr_min: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    train_fraction: float = 0.5


@attrs.frozen
class RankingResult:
    """Per-architecture accuracy curves and the per-epoch Kendall τ against the final ranking.

    ``accuracies[k][e]`` is architecture k's held-out accuracy after epoch e+1;
    ``taus[e]`` is τ between the epoch-e+1 and the final accuracies (None where
    τ is undefined: every architecture tied); ``mean_tau`` averages the defined
    τ of the epochs before the last.
    """

    space: str
    dataset: str
    seed: int
    epochs: int
    space_options: dict[str, Any]
    architectures: list[dict[str, list[str]]]
    accuracies: list[list[float]]
    taus: list[float | None]
    mean_tau: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "space": self.space,
            "dataset": self.dataset,
            "seed": self.seed,
            "architectures": len(self.architectures),
            "epochs": self.epochs,
            "space_options": self.space_options,
            "mean_tau": self.mean_tau,
            "taus": [{"epoch": e + 1, "tau": tau} for e, tau in enumerate(self.taus)],
            "samples": [
                {"architecture": arch, "accuracy": curve}
                for arch, curve in zip(self.architectures, self.accuracies)
            ],
        }


def kendall_taus(accuracies: Sequence[Sequence[float]]) -> list[float | None]:
    """τ_b (scipy, ties counted) between each epoch's accuracies and the last epoch's.

    ``accuracies[k][e]``: architecture k after epoch e. Where one of the two
    rankings is all ties, τ is undefined and reported as None.
    """
    by_epoch = list(zip(*accuracies))
    final = by_epoch[-1]
    taus: list[float | None] = []
    for epoch in by_epoch:
        if len(set(epoch)) < 2 or len(set(final)) < 2:
            taus.append(None)
        else:
            taus.append(float(stats.kendalltau(epoch, final).statistic))
    return taus


def mean_tau(taus: Sequence[float | None]) -> float | None:
    """Mean of the defined τ before the last epoch (the last is τ of the final ranking with itself)."""
    defined = [tau for tau in taus[:-1] if tau is not None]
    return sum(defined) / len(defined) if defined else None


def sample_architectures(space: SearchSpace, count: int, generator: torch.Generator) -> list[Architecture]:
    """``count`` single-path architectures, every decision uniform over its choices."""
    decisions = space.decisions()
    return [
        Architecture.single_path(
            {d.key: int(torch.randint(len(d), (), generator=generator)) for d in decisions}
        )
        for _ in range(count)
    ]


def run_ranking_experiment(
    space_name: str,
    dataset: str,
    *,
    architectures: int,
    epochs: int,
    batch_size: int = 64,
    seed: int = 0,
    space_options: Mapping[str, Any] | None = None,
    data_dir: str | None = None,
    out_dir: str | Path | None = None,
    device: str = "auto",
    progress: Progress | None = None,
) -> RankingResult:
    """Sample, train and rank ``architectures`` children for ``epochs`` epochs each.

    Writes ``ranking.json`` (and ``ranking.png`` where matplotlib is installed)
    into ``out_dir`` when given. Child k is initialised under ``torch.manual_seed(seed + k)``
    and every child sees the same batches, so results repeat and differences
    between children come from their architectures.
    """
    if architectures < 2:
        raise RankingError(f"a ranking needs at least 2 architectures, got {architectures}")
    if epochs < 2:
        raise RankingError(f"the experiment compares epochs with the last: needs at least 2, got {epochs}")
    folder = None if out_dir is None else Path(out_dir)
    with contextlib.nullcontext() if folder is None else run_lock(folder, "nasplug ranking"):
        if folder is not None and contents(folder):
            raise RankingError(f"{folder} exists and is not empty; choose another output folder")
        progress = progress or Progress(False)
        settings = TrainingSettings(epochs=epochs, batch_size=batch_size)
        target = resolve_device(device)

        train_data = load_dataset(dataset, data_dir, augment=True)
        eval_data = load_dataset(dataset, data_dir, augment=False)
        train_part, held_out = split_indices(len(train_data.train), settings.train_fraction, seed)
        train_set = torch.utils.data.Subset(train_data.train, train_part)
        held_out_set = torch.utils.data.Subset(eval_data.train, held_out)
        if len(train_set) < batch_size:
            raise RankingError(
                f"batch size {batch_size} is larger than the train split of {dataset} "
                f"({len(train_set)} images)"
            )

        space = load_plugins().build_space(space_name, train_data.shape, dict(space_options or {}))
        samples = sample_architectures(space, architectures, torch.Generator().manual_seed(seed))
        decisions = space.decisions()

        curves = []
        for index, architecture in enumerate(samples):
            progress.message(f"architecture {index + 1}/{architectures}")
            torch.manual_seed(seed + index)
            child = space.build_supernet(only=architecture).to(target)
            curves.append(train_child(child, architecture, train_set, held_out_set, settings, seed, target))

        taus = kendall_taus(curves)
        result = RankingResult(
            space=space_name,
            dataset=dataset,
            seed=seed,
            epochs=epochs,
            space_options=dict(space.config),
            architectures=[arch.to_json(decisions) for arch in samples],
            accuracies=curves,
            taus=taus,
            mean_tau=mean_tau(taus),
        )
        if folder is not None:
            write_ranking(result, folder)
    return result


def train_child(
    child: nn.Module,
    architecture: Architecture,
    train_set: torch.utils.data.Dataset,
    held_out_set: torch.utils.data.Dataset,
    settings: TrainingSettings,
    seed: int,
    device: torch.device,
) -> list[float]:
    """Train ``child`` by SGD with a cosine schedule; its held-out accuracy after every epoch."""
    optimizer = torch.optim.SGD(
        child.parameters(), lr=settings.lr, momentum=settings.momentum, weight_decay=settings.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=settings.epochs, eta_min=settings.lr_min
    )
    curve = []
    for epoch in range(settings.epochs):
        child.train()
        for x, y in make_loader(
            train_set, settings.batch_size, shuffle=True, seed=seed, epoch=epoch, drop_last=True
        ):
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(child(x, architecture), y).backward()
            nn.utils.clip_grad_norm_(child.parameters(), settings.grad_clip)
            optimizer.step()
        scheduler.step()
        curve.append(evaluate(child, architecture, held_out_set, settings.batch_size, seed, device))
    return curve


@torch.no_grad()
def evaluate(
    child: nn.Module,
    architecture: Architecture,
    dataset: torch.utils.data.Dataset,
    batch_size: int,
    seed: int,
    device: torch.device,
) -> float:
    child.eval()
    correct = total = 0
    for x, y in make_loader(dataset, batch_size, shuffle=False, seed=seed, epoch=0):
        x, y = x.to(device), y.to(device)
        correct += int((child(x, architecture).argmax(1) == y).sum())
        total += len(y)
    return correct / total


def write_ranking(result: RankingResult, out_dir: Path) -> None:
    """``ranking.json`` and, where matplotlib imports, ``ranking.png`` (both written atomically)."""
    write_json(out_dir / RESULT_FILE, result.to_json())
    try:
        from matplotlib.figure import Figure  # the object API: no pyplot state, no global backend
    except ImportError:
        return
    epochs = range(1, result.epochs + 1)
    figure = Figure(figsize=(10, 4), layout="tight")
    curves, taus = figure.subplots(1, 2)
    for curve in result.accuracies:
        curves.plot(epochs, curve, alpha=0.6)
    curves.set(
        xlabel="epoch", ylabel="held-out accuracy", title=f"{len(result.accuracies)} sampled architectures"
    )
    taus.plot(epochs, [math.nan if tau is None else tau for tau in result.taus], marker="o")
    if result.mean_tau is not None:
        taus.axhline(result.mean_tau, linestyle="--", color="grey", label=f"mean τ {result.mean_tau:.3f}")
        taus.legend()
    taus.set(xlabel="epoch", ylabel="Kendall τ with the final ranking", ylim=(-1.05, 1.05),
             title=f"{result.space} on {result.dataset}")
    atomic_write(out_dir / PLOT_FILE, lambda handle: figure.savefig(handle, format="png", dpi=120))
