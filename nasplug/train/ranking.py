"""The performance-ranking hypothesis experiment (MdeNAS §5.2, Fig. 4), on any space.

MdeNAS rests on the hypothesis that architectures which validate better early in
training also end better, so early accuracies can rank them. The experiment:
sample N single-path architectures uniformly from a space, train each one's
standalone child for E epochs on the training set, record its test loss and test
accuracy after every epoch (as the paper's Fig. 4), and measure with Kendall's τ
of Eq. 6, τ = (P − Q)/(P + Q), how well each epoch's accuracy ranking agrees with
the final one. The paper reports a mean τ of 0.474 on CIFAR-10.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import nn

from nasplug.core.architecture import Architecture
from nasplug.core.errors import NasplugError
from nasplug.core.space import SearchSpace
from nasplug.data import make_loader
from nasplug.networks.build import allocate
from nasplug.plugin import Hooks
from nasplug.runs.device import Precision, resolve_device
from nasplug.runs.files import atomic_write, write_json
from nasplug.runs.lock import contents, run_lock
from nasplug.runs.optimiser import DARTS_SGD, SgdSettings, cosine_schedule, sgd
from nasplug.runs.progress import Progress
from nasplug.train.loop import evaluate, train_epoch

RESULT_FILE = "ranking.json"
PLOT_FILE = "ranking.png"


class RankingError(NasplugError, ValueError):
    """The ranking experiment cannot run with the given settings; the message says which."""


@attrs.frozen
class TrainingSettings:
    """How every sampled child is trained: DARTS's search optimiser (MdeNAS §5.2 keeps it)."""

    epochs: int
    batch_size: int
    optimiser: SgdSettings = DARTS_SGD


@attrs.frozen
class RankingResult:
    """Per-architecture test curves and the per-epoch Kendall τ against the final ranking.

    ``accuracies[k][e]`` and ``losses[k][e]`` are architecture k's test accuracy
    and mean test cross-entropy after epoch e+1;
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
    losses: list[list[float]]
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
            "evaluated_on": "test",
            "samples": [
                {"architecture": arch, "accuracy": curve, "loss": loss}
                for arch, curve, loss in zip(self.architectures, self.accuracies, self.losses)
            ],
        }


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float | None:
    """MdeNAS's Eq. 6: τ = (P − Q)/(P + Q) over the pairs of architectures.

    P counts the concordant pairs (ordered alike by ``x`` and ``y``), Q the
    discordant ones; a pair tied in either ranking counts in neither. Without
    ties this is Kendall's τ_a = τ_b (scipy's ``kendalltau``); with ties τ_b
    divides by √((P+Q+T_x)(P+Q+T_y)) instead, so |Eq. 6| ≥ |τ_b|. None where
    no pair is untied (P + Q = 0).
    """
    concordant = discordant = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            sign = (x[i] - x[j]) * (y[i] - y[j])
            concordant += sign > 0
            discordant += sign < 0
    if concordant + discordant == 0:
        return None
    return (concordant - discordant) / (concordant + discordant)


def kendall_taus(accuracies: Sequence[Sequence[float]]) -> list[float | None]:
    """Eq. 6's τ between each epoch's accuracies and the last epoch's (``accuracies[k][e]``)."""
    by_epoch = list(zip(*accuracies))
    return [kendall_tau(epoch, by_epoch[-1]) for epoch in by_epoch]


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
    hooks: Hooks,
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
    into ``out_dir`` when given. Child k is initialised under ``torch.manual_seed((seed + k) mod 2**64)``
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

        # MdeNAS §5.2 trains on the training set and ranks by test accuracy (Fig. 4's curves)
        data = hooks.load_dataset(dataset, data_dir, augment=True)
        train_set, test_set = data.train, data.test
        if len(train_set) < batch_size:
            raise RankingError(
                f"batch size {batch_size} is larger than the training set of {dataset} "
                f"({len(train_set)} images)"
            )

        space = hooks.build_space(space_name, data.shape, dict(space_options or {}))
        samples = sample_architectures(space, architectures, torch.Generator().manual_seed(seed))
        decisions = space.decisions()

        curves, losses = [], []
        for index, architecture in enumerate(samples):
            progress.message(f"architecture {index + 1}/{architectures}")
            torch.manual_seed((seed + index) % 2**64)  # torch's seeds are 64 bits; -1 is 2**64 - 1 to torch
            child = allocate(lambda: space.build_supernet(only=architecture), f"child {index + 1} of "
                             f"{space_name}", dict(space.config), target).to(target)
            accuracy, loss = train_child(child, architecture, train_set, test_set, settings, seed, target)
            curves.append(accuracy)
            losses.append(loss)

        taus = kendall_taus(curves)
        result = RankingResult(
            space=space_name,
            dataset=dataset,
            seed=seed,
            epochs=epochs,
            space_options=dict(space.config),
            architectures=[arch.to_json(decisions) for arch in samples],
            accuracies=curves,
            losses=losses,
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
    test_set: torch.utils.data.Dataset,
    settings: TrainingSettings,
    seed: int,
    device: torch.device,
) -> tuple[list[float], list[float]]:
    """Train ``child`` by SGD with a cosine schedule; its (test accuracies, test losses) after every epoch."""
    sgd_settings = settings.optimiser
    optimizer = sgd(child.parameters(), sgd_settings.lr, sgd_settings.momentum, sgd_settings.weight_decay)
    scheduler = cosine_schedule(optimizer, settings.epochs, sgd_settings.lr_min)
    precision = Precision(device, amp=False, channels_last=False)

    def forward(x: torch.Tensor) -> torch.Tensor:
        return child(x, architecture)

    curve, losses = [], []
    for epoch in range(settings.epochs):
        batches = make_loader(train_set, settings.batch_size, shuffle=True, seed=seed, epoch=epoch, drop_last=True)
        train_epoch(child, batches, optimizer, precision, grad_clip=sgd_settings.grad_clip, forward=forward)
        scheduler.step()
        test = evaluate(child, make_loader(test_set, settings.batch_size, shuffle=False, seed=seed, epoch=0),
                        precision, forward)
        curve.append(test["test_top1"])
        losses.append(test["test_loss"])
    return curve, losses


def write_ranking(result: RankingResult, out_dir: Path) -> None:
    """``ranking.json`` and, where matplotlib imports, ``ranking.png`` (both written atomically)."""
    write_json(out_dir / RESULT_FILE, result.to_json())
    try:
        from matplotlib.figure import Figure  # the object API: no pyplot state, no global backend
    except ImportError:
        return
    epochs = range(1, result.epochs + 1)
    figure = Figure(figsize=(15, 4), layout="tight")
    losses, curves, taus = figure.subplots(1, 3)
    for loss, curve in zip(result.losses, result.accuracies):
        losses.plot(epochs, loss, alpha=0.6)
        curves.plot(epochs, curve, alpha=0.6)
    losses.set(xlabel="epoch", ylabel="test loss", title=f"{len(result.accuracies)} sampled architectures")
    curves.set(xlabel="epoch", ylabel="test accuracy", title="test accuracy")
    taus.plot(epochs, [math.nan if tau is None else tau for tau in result.taus], marker="o")
    if result.mean_tau is not None:
        taus.axhline(result.mean_tau, linestyle="--", color="grey", label=f"mean τ {result.mean_tau:.3f}")
        taus.legend()
    taus.set(xlabel="epoch", ylabel="Kendall τ (Eq. 6) with the final ranking", ylim=(-1.05, 1.05),
             title=f"{result.space} on {result.dataset}")
    atomic_write(out_dir / PLOT_FILE, lambda handle: figure.savefig(handle, format="png", dpi=120))
