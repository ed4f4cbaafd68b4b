"""Retraining a genotype from scratch: the evaluation protocol whose test accuracy papers publish.

:func:`training_config` turns a genotype reference and a dataset into a
:class:`TrainConfig` with the paper's recipe as defaults (DARTS's CIFAR and
ImageNet protocols, a MobileNet-style one for proxyless-mbv2, small ones for
digits); :func:`train_network` trains the standalone network, evaluates the test
split after every epoch, writes ``metrics.jsonl``, atomic per-epoch checkpoints
(``--resume`` continues bit for bit on CPU), the latest weights as
``model.safetensors`` (loadable without nasplug, docs/train.md) and, at the end,
``results.json``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import nn
from torch.nn import functional as F

from nasplug.runs.checkpoint import CheckpointError, atomic_write, load_checkpoint, save_checkpoint, write_json
from nasplug.data import DataBundle, load_dataset, make_loader
from nasplug.data import folder as folder_dataset
from nasplug.runs.config_file import config_from_json, read_json_file, reject_invalid
from nasplug.runs.divergence import check_finite
from nasplug.runs.environment import (
    ENVIRONMENT_KEY,
    describe as describe_environment,
    environment_record,
    resume_threads,
    split_environment,
    use_threads,
)
from nasplug.core.errors import NasplugError
from nasplug.networks.export import WEIGHTS_FILE, network_metadata, save_weights
from nasplug.networks.genotypes import load_genotype
from nasplug.networks.cost import ModelCost, model_cost
from nasplug.core.options import resolve_options
from nasplug.plugin.manager import Hooks, load_plugins
from nasplug.networks.build import allocate
from nasplug.runs.progress import Progress
from nasplug.runs.lock import contents, remove_temporary_files, run_lock
from nasplug.search.engine import checkpoint_paths, resolve_device

CHECKPOINT_FORMAT = "nasplug-train-1"
RESULTS_FORMAT = "nasplug-train-results-1"
CONFIG_FILE = "config.json"
GENOTYPE_FILE = "genotype.json"
METRICS_FILE = "metrics.jsonl"
RESULTS_FILE = "results.json"
CHECKPOINT_DIR = "checkpoints"
SCHEDULES = ("cosine", "step")
TOP_K = 5


class TrainError(NasplugError, RuntimeError):
    """A training configuration or output directory cannot be used; the message says which and why."""


# ---------------------------------------------------------------------------- configuration


@attrs.frozen
class TrainConfig:
    """Everything that defines a training run; saved as ``config.json`` so a resume needs only the folder.

    The protocol fields default to DARTS's CIFAR evaluation protocol;
    :func:`training_config` applies the recipe of the dataset and space.
    ``genotype`` is the genotype's JSON (the folder is self-contained);
    ``network_options`` are the space's resolved network options, where a
    darts-cell network's ``drop_path`` is the final drop-path probability.
    ``amp``/``channels_last`` None means "on for CUDA, off elsewhere".
    """

    space: str
    genotype: dict[str, Any]
    dataset: str
    network_options: dict[str, Any] = attrs.field(factory=dict)
    genotype_source: str = ""
    data_dir: str | None = None
    input_size: int | None = None
    epochs: int = 600
    batch_size: int = 96
    lr: float = 0.025
    lr_min: float = 0.0
    schedule: str = "cosine"
    lr_decay: float = 0.97
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    label_smoothing: float = 0.0
    cutout: int = 16
    auxiliary_weight: float = 0.4
    seed: int = 0
    device: str = "auto"
    amp: bool | None = None
    channels_last: bool | None = None
    num_workers: int = 0
    keep_checkpoints: int = 2

    def __attrs_post_init__(self) -> None:
        checks = {
            "epochs": self.epochs >= 1,
            "batch_size": self.batch_size >= 1,
            "lr": self.lr > 0,
            "lr_min": 0 <= self.lr_min <= self.lr,
            "schedule": self.schedule in SCHEDULES,
            "lr_decay": 0 < self.lr_decay <= 1,
            "momentum": 0 <= self.momentum < 1,
            "weight_decay": self.weight_decay >= 0,
            "grad_clip": self.grad_clip >= 0,
            "label_smoothing": 0 <= self.label_smoothing < 1,
            "cutout": self.cutout >= 0,
            "auxiliary_weight": self.auxiliary_weight >= 0,
            "input_size": self.input_size is None or self.input_size >= 1,
            "num_workers": self.num_workers >= 0,
            "keep_checkpoints": self.keep_checkpoints >= 0,
        }
        reject_invalid(self, checks, TrainError, "training configuration")

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: Any, source: str) -> TrainConfig:
        return config_from_json(cls, data, source, TrainError)


@attrs.frozen
class Recipe:
    """An evaluation protocol: TrainConfig fields, and network options for spaces that declare them."""

    settings: Mapping[str, Any] = attrs.field(factory=dict)
    network: Mapping[str, Any] = attrs.field(factory=dict)


DATASET_RECIPES: dict[str, Recipe] = {
    # DARTS train.py: TrainConfig's defaults (600 epochs, batch 96, SGD 0.025 cosine, wd 3e-4,
    # cutout 16, auxiliary 0.4, grad clip 5) with 20 cells of C=36 and drop-path 0.2.
    "cifar10": Recipe({}, {"layers": 20, "channels": 36, "drop_path": 0.2}),
    "cifar100": Recipe({}, {"layers": 20, "channels": 36, "drop_path": 0.2}),
    # DARTS train_imagenet.py: 250 epochs, batch 128, SGD 0.1 decayed 0.97 per epoch, wd 3e-5,
    # label smoothing 0.1, auxiliary 0.4, no cutout, no drop-path, 14 cells of C=48.
    "imagenet": Recipe(
        {"epochs": 250, "batch_size": 128, "lr": 0.1, "schedule": "step", "lr_decay": 0.97,
         "weight_decay": 3e-5, "label_smoothing": 0.1, "cutout": 0},
        {"layers": 14, "channels": 48, "drop_path": 0.0},
    ),
    # 8×8 digits: the CIFAR protocol shrunk to the search network's size and a minute of CPU.
    "digits": Recipe({"epochs": 30, "batch_size": 64, "cutout": 0},
                     {"layers": 8, "channels": 16, "drop_path": 0.1}),
}  # fmt: skip

MOBILENET_SPACES = frozenset({"proxyless-mbv2"})
"""Spaces whose networks train with the MobileNet-style recipe instead of DARTS's."""

MOBILENET_RECIPE = Recipe(
    {"nesterov": True, "weight_decay": 4e-5, "label_smoothing": 0.1, "auxiliary_weight": 0.0,
     "grad_clip": 0.0, "schedule": "cosine", "lr_min": 0.0},
)  # fmt: skip
"""ProxylessNAS's ImageNet training: SGD with Nesterov momentum, cosine, wd 4e-5, label smoothing 0.1."""

MOBILENET_IMAGENET = Recipe({"epochs": 300, "batch_size": 256})
MOBILENET_LR_PER_256 = 0.05
"""The MobileNet-style learning rate for a batch of 256, scaled linearly with the batch size."""


def recipe_for(space: str, dataset: str, data_dir: str | Path | None = None) -> Recipe:
    """The defaults of training a ``space`` network on ``dataset`` (see docs/train.md).

    A ``folder`` dataset takes CIFAR-10's protocol for small images and ImageNet's
    for large ones, the same split its loader makes (nasplug.data.folder).
    """
    if dataset == "folder":
        dataset = "cifar10" if folder_dataset.is_small(None if data_dir is None else Path(data_dir)) else "imagenet"
    if dataset not in DATASET_RECIPES:
        raise TrainError(f"no training recipe for dataset {dataset!r}; recipes exist for: "
                         f"{', '.join(sorted(DATASET_RECIPES))} and folder")
    base = DATASET_RECIPES[dataset]
    if space not in MOBILENET_SPACES:
        return base
    settings = {**base.settings, **MOBILENET_RECIPE.settings}
    if dataset == "imagenet":
        settings.update(MOBILENET_IMAGENET.settings)
    return Recipe(settings, base.network)


def _default(field: str) -> Any:
    return getattr(attrs.fields(TrainConfig), field).default


def training_config(
    reference: str,
    *,
    dataset: str = "cifar10",
    space: str | None = None,
    network_options: Mapping[str, Any] | None = None,
    hooks: Hooks | None = None,
    **settings: Any,
) -> TrainConfig:
    """The TrainConfig of training genotype ``reference`` on ``dataset``: the recipe, then the overrides.

    ``network_options`` (``-o key=value``, ``--layers``, ``--drop-path``...) are
    checked against the space's declared network options; ``settings`` are
    TrainConfig fields, None meaning "the recipe's value". Where the space
    declares an ``auxiliary`` option, the head is built iff the auxiliary weight
    is positive, unless given explicitly.
    """
    hooks = hooks or load_plugins()
    dataset = dataset.lower()
    entry, genotype = load_genotype(reference, hooks, space)
    recipe = recipe_for(entry.name, dataset, settings.get("data_dir"))
    given = {key: value for key, value in settings.items() if value is not None}
    values = {**recipe.settings, **given}
    if entry.name in MOBILENET_SPACES and "lr" not in given:
        values["lr"] = MOBILENET_LR_PER_256 * values.get("batch_size", _default("batch_size")) / 256
    auxiliary_weight = values.get("auxiliary_weight", _default("auxiliary_weight"))
    declared = entry.cls.network_options
    network = {key: value for key, value in recipe.network.items() if key in declared}
    if "auxiliary" in declared:
        network["auxiliary"] = auxiliary_weight > 0
    network.update(network_options or {})
    resolved = resolve_options(declared, network, f"the {entry.name} network")
    if auxiliary_weight > 0 and not resolved.get("auxiliary", False):
        state = "has switched off" if "auxiliary" in declared else "does not have"
        raise TrainError(f"auxiliary weight {auxiliary_weight} needs an auxiliary head, which the "
                         f"{entry.name} network {state}; set the auxiliary weight to 0")
    return TrainConfig(
        space=entry.name,
        genotype=genotype.to_json(),
        dataset=dataset,
        network_options=resolved,
        genotype_source=reference,
        **values,
    )


def read_config(out_dir: Path) -> TrainConfig:
    """The training's configuration from its ``config.json``, without the environment record."""
    data = split_environment(_config_json(out_dir))[0]
    return TrainConfig.from_json(data, str(Path(out_dir) / CONFIG_FILE))


def _config_json(out_dir: Path) -> Any:
    path = Path(out_dir) / CONFIG_FILE
    if not path.is_file():
        raise TrainError(f"{out_dir}: not a nasplug training directory (no {CONFIG_FILE})")
    return read_json_file(path, TrainError, "nasplug training configuration")


# ---------------------------------------------------------------------------- training


@attrs.frozen
class TrainResult:
    """The final test metrics, the network's cost and where everything was written."""

    top1: float
    top5: float
    cost: ModelCost
    wall_time: float
    metrics: list[dict[str, Any]]
    out_dir: Path


def train_network(
    config: TrainConfig | None,
    out_dir: str | Path,
    *,
    resume: bool = False,
    progress: Progress | None = None,
    hooks: Hooks | None = None,
    threads: int | None = None,
) -> TrainResult:
    """Train ``config``'s network from scratch in ``out_dir``, or continue it there with ``resume``.

    A fresh run needs an absent or empty ``out_dir``. With ``resume`` the
    configuration is read from ``out_dir`` (``config``, if given, must equal it)
    and training continues from the latest checkpoint.
    """
    out_dir = Path(out_dir)
    if not resume and config is None:
        raise TrainError("a training configuration is needed unless resuming")
    if out_dir.exists() and not out_dir.is_dir():
        raise TrainError(f"{out_dir} is a file, not a folder; choose another output directory")
    with run_lock(out_dir, "nasplug train"):
        if resume:
            saved = read_config(out_dir)
            if config is not None and config != saved:
                raise TrainError(f"{out_dir} was trained with a different configuration; resume it "
                                 f"without one")
            config = saved
            remove_temporary_files(out_dir)
        elif contents(out_dir):
            raise TrainError(f"{out_dir} exists and is not empty; choose another output directory or "
                             f"resume it")
        warning = None
        if resume:
            threads, warning = resume_threads(split_environment(_config_json(out_dir))[1], threads)
        threads = use_threads(threads)
        hooks = hooks or load_plugins()
        trainer = Trainer(config, out_dir, hooks, progress or Progress(False))
        space_distribution = hooks.space_entry(config.space).provider.distribution
        environment = environment_record(threads, trainer.device, [space_distribution])
        trainer.progress.message(describe_environment(environment))
        if warning:
            trainer.progress.message(f"warning: {warning}")
        checkpoints = checkpoint_paths(out_dir)
        if resume and checkpoints:
            trainer.restore(load_checkpoint(checkpoints[-1]))
            trainer.progress.message(f"resuming {out_dir} after epoch {trainer.epoch}")
        elif not resume:  # written only once the network is built: a bad configuration leaves nothing behind
            write_json(out_dir / CONFIG_FILE, {**config.to_json(), ENVIRONMENT_KEY: environment})
            write_json(out_dir / GENOTYPE_FILE, config.genotype)
        return trainer.run()


def make_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig
) -> torch.optim.lr_scheduler.LRScheduler:
    """The per-epoch learning rate: cosine to ``lr_min`` over the run, or × ``lr_decay`` every epoch."""
    if config.schedule == "step":  # DARTS ImageNet: StepLR(step_size=1, gamma=0.97)
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=config.lr_decay)
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs, eta_min=config.lr_min)


def training_loss(
    output: torch.Tensor | tuple[torch.Tensor, torch.Tensor | None],
    target: torch.Tensor,
    auxiliary_weight: float,
    label_smoothing: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, logits) of a training-mode forward: CE(logits) + auxiliary_weight · CE(aux_logits) (DARTS)."""
    logits, aux_logits = output if isinstance(output, tuple) else (output, None)
    loss = F.cross_entropy(logits, target, label_smoothing=label_smoothing)
    if auxiliary_weight > 0 and aux_logits is not None:
        loss = loss + auxiliary_weight * F.cross_entropy(aux_logits, target, label_smoothing=label_smoothing)
    return loss, logits


def top_k_correct(logits: torch.Tensor, target: torch.Tensor, k: int) -> torch.Tensor:
    """How many targets are among the ``k`` highest logits (k capped at the number of classes)."""
    top = logits.topk(min(k, logits.shape[1]), dim=1).indices
    return (top == target[:, None]).any(dim=1).sum()


class Trainer:
    """One training run's state; :meth:`run` executes the remaining epochs."""

    def __init__(self, config: TrainConfig, out_dir: Path, hooks: Hooks, progress: Progress) -> None:
        self.config = config
        self.out_dir = out_dir
        self.progress = progress
        self.hooks = hooks
        self.device = resolve_device(config.device)
        on_cuda = self.device.type == "cuda"
        self.pin_memory = on_cuda
        self.amp = on_cuda if config.amp is None else config.amp
        self.channels_last = on_cuda if config.channels_last is None else config.channels_last
        torch.manual_seed(config.seed)
        if on_cuda:
            torch.backends.cudnn.benchmark = True

        self.data: DataBundle = load_dataset(
            config.dataset, config.data_dir, augment=True, cutout=config.cutout, input_size=config.input_size
        )
        entry = hooks.space_entry(config.space)
        genotype = entry.cls.parse_genotype(config.genotype, f"the genotype of {out_dir / CONFIG_FILE}")
        space = entry.cls(self.data.shape, resolve_options(entry.cls.options, {}, f"space {entry.name!r}"))
        model = allocate(lambda: space.build_network(genotype, config.network_options),
                         f"the {config.space} network", config.network_options)
        self.weights_metadata = network_metadata(entry.name, genotype, config.network_options, config.dataset,
                                                 self.data.shape)
        self.cost = model_cost(model, self.data.shape)
        if config.auxiliary_weight > 0 and self.cost.auxiliary_parameters == 0:
            raise TrainError(f"the {config.space} network built no auxiliary head (a "
                             f"{self.data.shape.input_size}px input is too small for it); "
                             f"set the auxiliary weight to 0")
        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        self.model: nn.Module = model.to(self.device, memory_format=memory_format)
        self.final_drop_path = float(config.network_options.get("drop_path", 0.0))

        self.optimizer = torch.optim.SGD(
            self.model.parameters(),
            lr=config.lr,
            momentum=config.momentum,
            weight_decay=config.weight_decay,
            nesterov=config.nesterov,
        )
        self.scheduler = make_scheduler(self.optimizer, config)
        self.epoch = 0
        self.metrics: list[dict[str, Any]] = []
        if len(self.data.train) < config.batch_size:  # refused before anything is written
            raise TrainError(f"batch size {config.batch_size} is larger than the {config.dataset} "
                             f"training set ({len(self.data.train)} images)")

    # ------------------------------------------------------------------ state

    def state_dict(self) -> dict[str, Any]:
        rng = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {
            "format": CHECKPOINT_FORMAT,
            "config": self.config.to_json(),
            "epoch": self.epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": rng,
            "metrics": self.metrics,
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        if state.get("format") != CHECKPOINT_FORMAT:
            found = state.get("format")
            raise CheckpointError(f"{self.out_dir}: not a training checkpoint (format {found!r})")
        if state.get("config") != self.config.to_json():
            raise TrainError(f"{self.out_dir}: the checkpoint was written with a different configuration")
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            torch.set_rng_state(state["rng"]["torch"])
            self.epoch = int(state["epoch"])
            self.metrics = list(state["metrics"])
        except (KeyError, RuntimeError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{self.out_dir}: checkpoint does not match this network: {exc}") from exc
        if "cuda" in state["rng"] and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)
        self._write_metrics()

    def _write_metrics(self) -> None:
        text = "".join(json.dumps(record, allow_nan=False) + "\n" for record in self.metrics)
        atomic_write(self.out_dir / METRICS_FILE, lambda handle: handle.write(text.encode()))

    def _save_checkpoint(self) -> None:
        save_checkpoint(self.out_dir / CHECKPOINT_DIR / f"epoch-{self.epoch:04d}.pt", self.state_dict())
        if self.config.keep_checkpoints:
            for old in checkpoint_paths(self.out_dir)[: -self.config.keep_checkpoints]:
                old.unlink()

    # ------------------------------------------------------------------ loop

    def run(self) -> TrainResult:
        epochs = self.config.epochs
        for epoch in range(self.epoch, epochs):
            started = time.perf_counter()
            # DARTS ramps drop-path linearly from 0 over the run: p_e = p · e / E.
            drop_path = self.final_drop_path * epoch / epochs
            if hasattr(self.model, "drop_path_prob"):
                self.model.drop_path_prob = drop_path
            lr = self.optimizer.param_groups[0]["lr"]
            train = self._train_epoch(epoch)
            self.scheduler.step()
            test = self.evaluate()
            record = {"epoch": epoch + 1, "lr": lr, "drop_path": drop_path, **train, **test,
                      "seconds": round(time.perf_counter() - started, 3)}
            check_finite(record, f"epoch {epoch + 1}", self._divergence_advice)  # before its checkpoint
            self.epoch = epoch + 1
            self.metrics.append(record)
            self._save_checkpoint()
            save_weights(self.out_dir / WEIGHTS_FILE, self.model, self.weights_metadata)
            self._write_metrics()
            self.hooks.train_epoch_finished(record, str(self.out_dir))
            self.progress.end_epoch(_summary(record, epochs))
        return self._finish()

    def _divergence_advice(self) -> str:
        kept = checkpoint_paths(self.out_dir)
        where = f"; the last good checkpoint, {kept[-1].name}, is kept" if kept else ""
        return f"lower --lr (now {self.config.lr:g}){where}"

    def _to_device(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = batch
        x = x.to(self.device, non_blocking=True)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y.to(self.device, non_blocking=True)

    def _autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def _train_epoch(self, epoch: int) -> dict[str, float]:
        cfg = self.config
        # drop_last: a final batch of one sample would break BatchNorm in the auxiliary head.
        loader = make_loader(self.data.train, cfg.batch_size, shuffle=True, seed=cfg.seed, epoch=epoch,
                             drop_last=True, num_workers=cfg.num_workers, pin_memory=self.pin_memory)
        self.model.train()
        self.progress.start_epoch(f"epoch {epoch + 1}/{cfg.epochs}", len(loader), cfg.epochs - epoch - 1)
        # Sums stay on the device: no host synchronisation per step unless a live bar shows them.
        loss_sum, correct, seen = self._zero(), self._zero(), 0
        for batch in loader:
            x, y = self._to_device(batch)
            self.optimizer.zero_grad(set_to_none=True)
            with self._autocast():
                loss, logits = training_loss(self.model(x), y, cfg.auxiliary_weight, cfg.label_smoothing)
            loss.backward()
            if cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.optimizer.step()
            loss_sum += loss.detach() * len(y)
            correct += top_k_correct(logits.detach(), y, 1)
            seen += len(y)
            if self.progress.live:
                self.progress.step({"loss": float(loss_sum) / seen, "top1": float(correct) / seen})
        return {"train_loss": float(loss_sum) / seen, "train_top1": float(correct) / seen}

    def _zero(self) -> torch.Tensor:
        return torch.zeros((), dtype=torch.float64, device=self.device)

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Loss, top-1 and top-5 over the whole test split, in eval mode (no drop-path, running BN)."""
        cfg = self.config
        loader = make_loader(self.data.test, cfg.batch_size, shuffle=False, seed=cfg.seed, epoch=0,
                             num_workers=cfg.num_workers, pin_memory=self.pin_memory)
        self.model.eval()
        loss_sum, top1, top5, seen = self._zero(), self._zero(), self._zero(), 0
        for batch in loader:
            x, y = self._to_device(batch)
            with self._autocast():
                logits = self.model(x)
            loss_sum += F.cross_entropy(logits.float(), y, reduction="sum")
            top1 += top_k_correct(logits, y, 1)
            top5 += top_k_correct(logits, y, TOP_K)
            seen += len(y)
        return {"test_loss": float(loss_sum) / seen, "test_top1": float(top1) / seen,
                "test_top5": float(top5) / seen}

    def _finish(self) -> TrainResult:
        last = self.metrics[-1]
        best = max(self.metrics, key=lambda record: record["test_top1"])
        wall_time = round(sum(record["seconds"] for record in self.metrics), 3)
        results = {
            "format": RESULTS_FORMAT,
            "space": self.config.space,
            "dataset": self.config.dataset,
            "epochs": self.epoch,
            "top1": last["test_top1"],
            "top5": last["test_top5"],
            "test_loss": last["test_loss"],
            "best_top1": best["test_top1"],
            "best_epoch": best["epoch"],
            **self.cost.to_json(),
            "wall_time_seconds": wall_time,
            "device": str(self.device),
            "genotype": self.config.genotype,
            "config": self.config.to_json(),
        }
        write_json(self.out_dir / RESULTS_FILE, results)
        return TrainResult(last["test_top1"], last["test_top5"], self.cost, wall_time, self.metrics,
                           self.out_dir)


def _summary(record: Mapping[str, Any], epochs: int) -> str:
    parts = [f"epoch {record['epoch']}/{epochs}", f"lr {record['lr']:.4g}"]
    keys = ("train_loss", "train_top1", "test_loss", "test_top1", "test_top5")
    parts += [f"{key} {record[key]:.4f}" for key in keys]
    return "  ".join([*parts, f"{record['seconds']:.1f}s"])
