"""One training run's state: the network, its optimiser and schedule, the epochs and their checkpoints.

The standalone network is trained from scratch, the test split evaluated after every epoch; each
epoch appends to ``metrics.jsonl``, writes an atomic checkpoint (``--resume`` continues bit for bit on
CPU) and the latest weights as ``model.safetensors`` (loadable without nasplug, docs/train.md); the
end writes ``results.json``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import nn

from nasplug.core.errors import CheckpointError
from nasplug.data import DataBundle, make_loader
from nasplug.networks.build import genotype_network
from nasplug.networks.cost import ModelCost, model_cost
from nasplug.networks.export_metadata import export_metadata
from nasplug.networks.weights import WEIGHTS_FILE, network_metadata, save_weights
from nasplug.plugin import Hooks
from nasplug.runs.checkpoint import check_progress, optimisation_state, restore_optimisation, save_epoch_checkpoint
from nasplug.runs.device import Precision, resolve_device
from nasplug.runs.divergence import check_finite, divergence_advice
from nasplug.runs.files import write_json, write_jsonl
from nasplug.runs.optimiser import cosine_schedule, sgd
from nasplug.runs.progress import Progress
from nasplug.runs.run_config import CONFIG_FILE
from nasplug.train.config import TrainConfig, TrainError
from nasplug.train.loop import evaluate, train_epoch

CHECKPOINT_FORMAT = "nasplug-train-1"
RESULTS_FORMAT = "nasplug-train-results-1"
GENOTYPE_FILE = "genotype.json"
METRICS_FILE = "metrics.jsonl"
RESULTS_FILE = "results.json"


@attrs.frozen
class TrainResult:
    """The final test metrics, the network's cost and where everything was written."""

    top1: float
    top5: float
    cost: ModelCost
    wall_time: float
    metrics: list[dict[str, Any]]
    out_dir: Path


def make_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig
) -> torch.optim.lr_scheduler.LRScheduler:
    """The per-epoch learning rate: cosine or linear to ``lr_min`` over the run, or × ``lr_decay`` every epoch."""
    if config.schedule == "step":  # DARTS ImageNet: StepLR(step_size=1, gamma=0.97)
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=config.lr_decay)
    if config.schedule == "linear":  # lr at epoch e: lr_min + (lr − lr_min)·(1 − e/epochs)
        return torch.optim.lr_scheduler.LinearLR(
            optimizer, start_factor=1.0, end_factor=config.lr_min / config.lr, total_iters=config.epochs
        )
    return cosine_schedule(optimizer, config.epochs, config.lr_min)


class Trainer:
    """One training run's state; :meth:`run` executes the remaining epochs."""

    def __init__(self, config: TrainConfig, out_dir: Path, hooks: Hooks, progress: Progress,
                 data: DataBundle | None = None) -> None:
        self.config = config
        self.out_dir = out_dir
        self.progress = progress
        self.hooks = hooks
        self.device = resolve_device(config.device)
        self.precision = Precision.choose(self.device, config.amp, config.channels_last)
        torch.manual_seed(config.seed)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True

        self.data: DataBundle = data if data is not None else hooks.load_dataset(
            config.dataset, config.data_dir, augment=True, cutout=config.cutout, input_size=config.input_size,
        )
        entry = hooks.space_entry(config.space)
        genotype = entry.cls.parse_genotype(config.genotype, f"the genotype of {out_dir / CONFIG_FILE}")
        model = genotype_network(entry, genotype, self.data.shape, config.network_options, self.device)
        self.weights_metadata = {
            **network_metadata(entry.name, genotype, config.network_options, config.dataset, self.data.shape),
            **export_metadata(config.dataset, True, self.data.preprocessing),
        }
        self.cost = model_cost(model, self.data.shape)
        if config.auxiliary_weight > 0 and self.cost.auxiliary_parameters == 0:
            raise TrainError(f"the {config.space} network built no auxiliary head (a "
                             f"{self.data.shape.input_size}px input is too small for it); "
                             f"set the auxiliary weight to 0")
        self.model: nn.Module = model.to(self.device, memory_format=self.precision.memory_format)
        self.final_drop_path = float(config.network_options.get("drop_path", 0.0))

        self.optimizer = sgd(self.model.parameters(), config.lr, config.momentum, config.weight_decay,
                             nesterov=config.nesterov)
        self.scheduler = make_scheduler(self.optimizer, config)
        self.epoch = 0
        self.metrics: list[dict[str, Any]] = []
        if len(self.data.train) < config.batch_size:  # refused before anything is written
            raise TrainError(f"batch size {config.batch_size} is larger than the {config.dataset} "
                             f"training set ({len(self.data.train)} images)")

    # ------------------------------------------------------------------ state

    def state_dict(self) -> dict[str, Any]:
        return {
            **optimisation_state(CHECKPOINT_FORMAT, self.config.to_json(), self.epoch, self.optimizer,
                                 self.scheduler, self.device),
            "model": self.model.state_dict(),
            "metrics": self.metrics,
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        if state.get("format") != CHECKPOINT_FORMAT:
            found = state.get("format")
            raise CheckpointError(f"{self.out_dir}: not a training checkpoint (format {found!r})")
        if state.get("config") != self.config.to_json():
            raise TrainError(f"{self.out_dir}: the checkpoint was written with a different configuration")
        try:
            check_progress(state, self.config.epochs, "metrics")
        except CheckpointError as exc:
            raise CheckpointError(f"{self.out_dir}: its latest checkpoint is {exc}") from exc
        try:
            self.model.load_state_dict(state["model"])
            restore_optimisation(state, self.optimizer, self.scheduler, self.device)
            self.epoch = int(state["epoch"])
            self.metrics = list(state["metrics"])
        except (KeyError, RuntimeError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{self.out_dir}: checkpoint does not match this network: {exc}") from exc
        write_jsonl(self.out_dir / METRICS_FILE, self.metrics)

    # ------------------------------------------------------------------ loop

    def run(self) -> TrainResult:
        cfg = self.config
        for epoch in range(self.epoch, cfg.epochs):
            started = time.perf_counter()
            # DARTS ramps drop-path linearly from 0 over the run: p_e = p · e / E.
            drop_path = self.final_drop_path * epoch / cfg.epochs
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
            save_epoch_checkpoint(self.out_dir, self.epoch, self.state_dict(), cfg.keep_checkpoints)
            save_weights(self.out_dir / WEIGHTS_FILE, self.model, self.weights_metadata)
            write_jsonl(self.out_dir / METRICS_FILE, self.metrics)
            for failure in self.hooks.train_epoch_finished(record, str(self.out_dir)):
                self.progress.message(f"warning: {failure} (epoch {self.epoch} is saved; the training goes on)")
            self.progress.end_epoch(_summary(record, cfg.epochs))
        return self._finish()

    def _divergence_advice(self) -> str:
        return divergence_advice(self.out_dir, self.config.lr)

    def _loader_options(self) -> dict[str, Any]:
        return dict(num_workers=self.config.num_workers, pin_memory=self.device.type == "cuda")

    def _train_epoch(self, epoch: int) -> dict[str, float]:
        cfg = self.config
        # drop_last: a final batch of one sample would break BatchNorm in the auxiliary head.
        loader = make_loader(self.data.train, cfg.batch_size, shuffle=True, seed=cfg.seed, epoch=epoch,
                             drop_last=True, **self._loader_options())
        self.progress.start_epoch(f"epoch {epoch + 1}/{cfg.epochs}", len(loader), cfg.epochs - epoch - 1)
        return train_epoch(self.model, loader, self.optimizer, self.precision, grad_clip=cfg.grad_clip,
                           auxiliary_weight=cfg.auxiliary_weight, label_smoothing=cfg.label_smoothing,
                           progress=self.progress)

    def evaluate(self) -> dict[str, float]:
        """Loss, top-1 and top-5 over the whole test split, in eval mode (no drop-path, running BN)."""
        loader = make_loader(self.data.test, self.config.batch_size, shuffle=False, seed=self.config.seed,
                             epoch=0, **self._loader_options())
        return evaluate(self.model, loader, self.precision)

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
            "preprocessing": None if self.data.preprocessing is None else self.data.preprocessing.to_json(),
        }
        write_json(self.out_dir / RESULTS_FILE, results)
        return TrainResult(last["test_top1"], last["test_top5"], self.cost, wall_time, self.metrics,
                           self.out_dir)


def _summary(record: Mapping[str, Any], epochs: int) -> str:
    parts = [f"epoch {record['epoch']}/{epochs}", f"lr {record['lr']:.4g}"]
    keys = ("train_loss", "train_top1", "test_loss", "test_top1", "test_top5")
    parts += [f"{key} {record[key]:.4f}" for key in keys]
    return "  ".join([*parts, f"{record['seconds']:.1f}s"])
