"""The search engine: the step loop of DESIGN §5 around the hooks, checkpoints and history.

One step: the controller samples K architectures; each is evaluated on a batch
of the search split (feedback); the shared weights are trained on a batch of
the train split with the controller's per-sample weights, one sample at a time
so memory stays that of one child; the controller updates its distribution.
At each epoch end the engine records the distribution, evaluates the derived
architecture, appends to ``history.jsonl`` and writes an atomic checkpoint
from which ``--resume`` continues bit for bit (on CPU).

Under torchrun every rank runs the same hooks on the same controller state;
the samples are spread over the ranks, their feedback is shared, the shared
weights train under DistributedDataParallel and rank 0 writes the files
(docs/distributed.md).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import nn
from torch.nn import functional as F

from nasplug.core.architecture import Architecture, Feedback, Step, entropy
from nasplug.runs.checkpoint import (
    CheckpointError,
    atomic_write,
    check_loadable,
    load_checkpoint,
    save_checkpoint,
    write_json,
)
from nasplug.core.controller import Controller
from nasplug.search.controller_choice import build_space_and_controller
from nasplug.data import NORMALISATIONS, DataBundle, load_dataset, make_loader, split_indices, split_off
from nasplug.data.device import DEVICE_DATA_CHOICES, DeviceSplit, cycling_device_batches, use_device_data
from nasplug.data.loaders import cycling_batches, derived_seed
from nasplug.search.distributed import (
    World,
    all_sum,
    all_sum_tensor,
    barrier,
    check_identical,
    current_world,
    data_parallel,
    exchange_feedback,
    local_main_first,
    rank_seed,
    training_share,
)
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
from nasplug.search.history import choice_names, uniform_entropy
from nasplug.plugin.manager import Hooks, describe, load_plugins
from nasplug.runs.progress import Progress
from nasplug.runs.lock import contents, remove_temporary_files, run_lock
from nasplug.core.space import Genotype
from nasplug.search.step_totals import StepTotals, ordered_mean, steps_label

CHECKPOINT_FORMAT = "nasplug-search-1"
CONFIG_FILE = "config.json"
HISTORY_FILE = "history.jsonl"
GENOTYPE_FILE = "genotype.json"
CHECKPOINT_DIR = "checkpoints"
SEARCH_AUGMENTATION_STREAM = 3
"""The seed stream of the search batches' augmentation (loaders use 0 and 1, ranks 2)."""
DEVICE_TRAIN_AUGMENTATION_STREAM = 4
"""The seed stream of the weight-training batches' augmentation when the data is on the device."""
EVALUATION_BATCH = 256
"""The largest batch an evaluation over the search split runs in (the run's batch size if larger). BN
normalises with batch statistics there, and those of a few hundred images are close to the split's own."""
STEP_METRICS = ("train_loss", "train_accuracy", "search_loss", "search_accuracy")
"""What every step measures; the epoch's record holds their means."""
SEARCH_STATE_KEYS = ("config", "epoch", "supernet", "optimizer", "scheduler", "controller", "rng", "history")


class RunError(NasplugError, RuntimeError):
    """The run directory or configuration cannot be used; the message says which and why."""


@attrs.frozen
class SearchConfig:
    """Everything that defines a search; saved as ``config.json`` so a resume needs only the folder.

    The search split is ``search_images`` training images when set (MdeNAS: 5,000),
    else the ``1 - train_fraction`` part; ``normalisation`` is one of
    ``nasplug.data.NORMALISATIONS``; ``cutout`` (pixels, 0 = off) joins the augmentation
    of both splits (PARSEC §4.2 fine-tunes with the evaluation's). ``lr`` follows a cosine schedule down to ``lr_min``.
    ``data_on_device`` (``auto``, ``on``, ``off``) holds both splits on the device and augments there
    (nasplug.data.device); ``auto`` does so on CUDA for datasets that offer it and fit.
    ``amp`` (bf16 autocast of the search's forwards) and ``channels_last`` (the supernet's and the
    batches' memory layout): None means on for CUDA, off elsewhere, as for ``nasplug train``.
    """

    space: str
    controller: str
    dataset: str = "digits"
    data_dir: str | None = None
    epochs: int = 50
    batch_size: int = 64
    seed: int = 0
    lr: float = 0.025
    lr_min: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    train_fraction: float = 0.5
    search_images: int | None = None
    normalisation: str = "dataset"
    cutout: int = 0
    space_options: dict[str, Any] = attrs.field(factory=dict)
    controller_options: dict[str, Any] = attrs.field(factory=dict)
    device: str = "auto"
    amp: bool | None = None
    channels_last: bool | None = None
    num_workers: int = 0
    data_on_device: str = "auto"
    eval_derived: bool = True
    keep_checkpoints: int = 3
    init_from: str | None = None

    def __attrs_post_init__(self) -> None:
        checks = {
            "epochs": self.epochs >= 1,
            "batch_size": self.batch_size >= 1,
            "train_fraction": 0.0 < self.train_fraction < 1.0,
            "search_images": self.search_images is None or self.search_images >= 1,
            "normalisation": self.normalisation in NORMALISATIONS,
            "cutout": self.cutout >= 0,
            "data_on_device": self.data_on_device in DEVICE_DATA_CHOICES,
            "lr": self.lr > 0,
            "lr_min": 0 <= self.lr_min <= self.lr,
            "keep_checkpoints": self.keep_checkpoints >= 0,
        }
        reject_invalid(self, checks, RunError, "search configuration")

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: Any, source: str) -> SearchConfig:
        return config_from_json(cls, data, source, RunError)


@attrs.frozen
class SearchResult:
    genotype: Genotype
    history: list[dict[str, Any]]
    run_dir: Path


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise RunError(f"unknown device {name!r}; nasplug runs on auto, cpu, cuda or cuda:N") from exc
    if device.type not in ("cpu", "cuda"):
        raise RunError(f"device {name!r} is not supported; nasplug runs on auto, cpu, cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RunError("--device cuda asked for, but no CUDA device is available")
    return device


def read_config(run_dir: Path) -> SearchConfig:
    """The run's configuration from its ``config.json``, without the environment record."""
    path = run_dir / CONFIG_FILE
    return SearchConfig.from_json(split_environment(_config_json(run_dir))[0], str(path))


def read_environment(run_dir: Path) -> Mapping[str, Any]:
    """What the run was started on (threads, versions, device); empty for runs older than the record."""
    return split_environment(_config_json(run_dir))[1]


def _config_json(run_dir: Path) -> Any:
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise RunError(f"{run_dir}: not a nasplug run directory (no {CONFIG_FILE})")
    return read_json_file(path, RunError, "nasplug run configuration")


def checkpoint_paths(run_dir: Path) -> list[Path]:
    """The run's epoch checkpoints, oldest first."""
    return sorted((run_dir / CHECKPOINT_DIR).glob("epoch-*.pt"))


def resume_target(target: Path) -> Path:
    """The run directory of ``--resume TARGET``: a run directory, or a file in its ``checkpoints/``."""
    if target.is_dir():
        return target
    if target.parent.name != CHECKPOINT_DIR or target.suffix != ".pt":
        raise RunError(f"{target}: --resume takes a run directory or one of its {CHECKPOINT_DIR}/*.pt files")
    return target.parent.parent


def latest_checkpoint(run_dir: Path) -> Path:
    paths = checkpoint_paths(run_dir)
    if not paths:
        raise RunError(f"{run_dir}: no checkpoint to resume from (nothing in {CHECKPOINT_DIR}/)")
    return paths[-1]


def run_search(
    config: SearchConfig,
    run_dir: str | Path,
    *,
    resume_from: str | Path | None = None,
    progress: Progress | None = None,
    hooks: Hooks | None = None,
    world: World | None = None,
    data: DataBundle | None = None,
    controller: type[Controller] | Controller | None = None,
    threads: int | None = None,
) -> SearchResult:
    """Run (or, with ``resume_from``, continue) a search writing into ``run_dir``.

    ``resume_from`` is a checkpoint file or the run directory itself: its latest
    checkpoint, or epoch 0 where the run stopped before writing one. The run
    holds ``run_dir``'s lock (nasplug.runs.lock) throughout; a fresh run needs the
    folder absent or empty. ``world`` defaults to the initialised process group's.
    ``threads`` sets torch's CPU threads for the process (default: nasplug.runs.environment;
    a resume: the run's own count). ``data``, if given, is searched on instead of loading
    ``config.dataset``; ``controller``, a Controller class or instance, instead of the installed
    controller ``config.controller`` names.
    """
    run_dir = Path(run_dir)
    world = world or current_world()
    progress = progress or Progress(False)
    with run_lock(run_dir, "nasplug run") if world.is_main else contextlib.nullcontext():
        if world.is_main:
            _prepare_folder(config, run_dir, resume_from)
        warning = None
        if resume_from is not None:
            threads, warning = resume_threads(read_environment(run_dir), threads)
        threads = use_threads(threads)
        engine = SearchEngine(config, run_dir, hooks or load_plugins(), progress, world, data=data,
                              controller=controller)
        engine.environment = environment_record(threads, engine.device, engine.distributions)
        engine.progress.message(describe_environment(engine.environment))
        if warning:
            engine.progress.message(f"warning: {warning}")
        checkpoint = _resume_checkpoint(run_dir, resume_from)
        if checkpoint is not None:
            state = load_checkpoint(checkpoint)
            try:
                engine.restore(state)
            except CheckpointError as exc:
                raise CheckpointError(f"{checkpoint}: {exc}") from exc
        else:
            engine.start()
        return engine.run()


def _prepare_folder(config: SearchConfig, run_dir: Path, resume_from: str | Path | None) -> None:
    """Under the lock: a fresh run's folder must be empty; a resumed one this run's (stray .tmp go)."""
    if resume_from is None:
        if contents(run_dir):
            raise RunError(f"{run_dir} is not empty; choose another folder or resume it")
        return
    if read_config(run_dir) != config:
        raise RunError(f"{run_dir} holds a run with a different configuration")
    remove_temporary_files(run_dir)


def _resume_checkpoint(run_dir: Path, resume_from: str | Path | None) -> Path | None:
    """The checkpoint to restore, or None to start at epoch 0 (a fresh run, or one stopped before epoch 1)."""
    if resume_from is None:
        return None
    if Path(resume_from).is_dir():
        paths = checkpoint_paths(run_dir)
        return paths[-1] if paths else None
    return Path(resume_from)


class SearchEngine:
    """Holds one search's state; :meth:`run` executes the remaining epochs.

    On several ranks (``world``) each rank holds the same controller and
    supernet; only rank 0 writes files or reports progress.
    """

    def __init__(
        self,
        config: SearchConfig,
        run_dir: Path,
        hooks: Hooks,
        progress: Progress,
        world: World | None = None,
        data: DataBundle | None = None,
        controller: type[Controller] | Controller | None = None,
    ) -> None:
        self.config = config
        self.run_dir = run_dir
        self.hooks = hooks
        self.world = world or current_world()
        self.progress = progress if self.world.is_main else Progress(False)
        self.device = self._rank_device(resolve_device(config.device))
        torch.manual_seed(config.seed)

        with local_main_first(self.world):  # one download per machine
            self.data: DataBundle = data if data is not None else load_dataset(
                config.dataset, config.data_dir, augment=True, cutout=config.cutout,
                normalisation=config.normalisation,
            )
        if config.search_images is not None:
            train_part, search_part = split_off(len(self.data.train), config.search_images, config.seed)
        else:
            train_part, search_part = split_indices(len(self.data.train), config.train_fraction, config.seed)
        self.train_set = torch.utils.data.Subset(self.data.train, train_part)
        self.search_set = torch.utils.data.Subset(self.data.train, search_part)
        # The same images without augmentation, for evaluating architectures (the train set where the
        # dataset gives no plain view).
        plain = self.data.train_plain if self.data.train_plain is not None else self.data.train
        self.search_plain = torch.utils.data.Subset(plain, search_part)
        # Both splits held on the device (nasplug.data.device), or None: the DataLoader path.
        self.device_train: DeviceSplit | None = None
        self.device_search: DeviceSplit | None = None
        source = self.data.train_source
        if use_device_data(config.data_on_device, source, self.device, config.dataset) and source is not None:
            self.device_train = DeviceSplit(source, train_part, self.device)
            self.device_search = DeviceSplit(source, search_part, self.device)
            self.progress.message(f"data: both splits held on {self.device} ({source.nbytes / 2**20:.1f} MiB), "
                                  f"augmented there")

        self.space, self.controller, provider = build_space_and_controller(
            config, hooks, self.data.shape, controller
        )
        self.controller_owner = describe(provider, "controller")
        # The distributions whose versions config.json records, and the environment run_search sets.
        self.distributions = [hooks.space_entry(config.space).provider.distribution, provider.distribution]
        self.environment: dict[str, Any] = {}
        hooks.add_controller(self.controller, config.controller, provider)

        self.supernet: nn.Module = self.space.build_supernet().to(self.device)
        if self.channels_last:
            self.supernet.to(memory_format=torch.channels_last)
        # What trains the weights: DDP around the supernet on several ranks, the supernet itself on one.
        self.model: nn.Module = self.supernet
        if self.world.is_distributed:
            self.model = data_parallel(self.supernet, self.device)
        self.optimizer = torch.optim.SGD(
            self.supernet.parameters(),
            lr=config.lr,
            momentum=config.momentum,
            weight_decay=config.weight_decay,
        )
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.optimizer, T_max=config.epochs, eta_min=config.lr_min
        )
        self.epoch = 0
        self.history: list[dict[str, Any]] = []
        self._check_batches()

    def _check_batches(self) -> None:
        """Refuse a batch larger than a split before anything is written (an epoch would have no step)."""
        if len(self._train_loader(0)) == 0 or self.config.batch_size > len(self.search_set):
            shared = f" shared by {self.world.size} processes" if self.world.is_distributed else ""
            raise RunError(
                f"batch size {self.config.batch_size} is larger than a split of {self.config.dataset} "
                f"({len(self.train_set)} train{shared} / {len(self.search_set)} search images)"
            )

    def _rank_device(self, device: torch.device) -> torch.device:
        """Under torchrun each rank drives the GPU of its local rank; NCCL cannot reduce CPU tensors."""
        if not self.world.is_distributed:
            return device
        if device.type == "cuda":
            return torch.device("cuda", self.world.local_rank)
        if self.world.device.type == "cuda":
            raise RunError(f"the process group uses {self.world.backend}, which needs CUDA, but the run's "
                           f"device is {device}")
        return device

    @property
    def amp(self) -> bool:
        """Whether the feedback and weight-step forwards run under bf16 autocast (None: on for CUDA)."""
        return self.device.type == "cuda" if self.config.amp is None else self.config.amp

    @property
    def channels_last(self) -> bool:
        """Whether the supernet and the image batches use the channels-last layout (None: on for CUDA)."""
        return self.device.type == "cuda" if self.config.channels_last is None else self.config.channels_last

    def _autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def _layout(self, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch with its images in the supernet's memory layout."""
        x, y = batch
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y

    # ------------------------------------------------------------------ state

    def start(self) -> None:
        """A fresh run: take an earlier run's distribution if ``init_from`` is set, then write the config.

        The config is written last, so a start refused here leaves no folder behind.
        """
        if self.config.init_from is not None:
            earlier = load_checkpoint(latest_checkpoint(Path(self.config.init_from)))
            self.controller.transfer_state(earlier["controller"])
            self.progress.message(f"controller initialised from {self.config.init_from}")
        if self.world.is_main:
            saved = {**self.config.to_json(), ENVIRONMENT_KEY: self.environment}
            write_json(self.run_dir / CONFIG_FILE, saved)

    def state_dict(self) -> dict[str, Any]:
        rng = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {
            "format": CHECKPOINT_FORMAT,
            "config": self.config.to_json(),
            "epoch": self.epoch,
            "supernet": self.supernet.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "controller": self.controller.state_dict(),
            "rng": rng,
            "history": self.history,
            "world_size": self.world.size,
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        if state.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"not a search checkpoint (format {state.get('format')!r})")
        missing = [key for key in SEARCH_STATE_KEYS if key not in state]
        if missing:
            raise CheckpointError(f"damaged: it has no {', '.join(map(repr, missing))} entry")
        if state["config"] != self.config.to_json():
            raise RunError("the checkpoint was written by a run with a different configuration")
        try:
            if not isinstance(state["epoch"], int) or not isinstance(state["history"], list):
                raise TypeError("'epoch' must be an integer and 'history' a list")
            self.supernet.load_state_dict(state["supernet"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.controller.load_state_dict(state["controller"])
            torch.set_rng_state(state["rng"]["torch"])
            if "cuda" in state["rng"] and self.device.type == "cuda":
                torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)
        except (KeyError, RuntimeError, TypeError, ValueError) as exc:
            raise CheckpointError(f"checkpoint does not match this run: {exc}") from exc
        self.epoch = state["epoch"]
        self.history = list(state["history"])
        self._check_ranks_agree()  # every rank read the same checkpoint (a stale copy on some node?)
        written_by = int(state.get("world_size", 1))
        if written_by != self.world.size:
            self.progress.message(
                f"the checkpoint was written by {written_by} process(es), this run has {self.world.size}: "
                f"the search continues, but steps and samples per step change (not bit for bit)"
            )
        if self.world.is_main:
            self._write_history()

    def _write_history(self) -> None:
        text = "".join(json.dumps(record, allow_nan=False) + "\n" for record in self.history)
        atomic_write(self.run_dir / HISTORY_FILE, lambda handle: handle.write(text.encode()))

    def _check_ranks_agree(self) -> None:
        """Verify (not assume) that every rank holds the same controller state and weights."""
        check_identical(
            self.world,
            {
                "the controller state": self.controller.state_dict(),
                "the supernet weights": dict(self.supernet.named_parameters()),
            },
        )

    def _save_checkpoint(self) -> None:
        self._check_ranks_agree()
        if not self.world.is_main:
            return
        folder = self.run_dir / CHECKPOINT_DIR
        state = self.state_dict()
        check_loadable(state["controller"], self.controller_owner)  # else every resume would fail
        save_checkpoint(folder / f"epoch-{self.epoch:04d}.pt", state)
        if self.config.keep_checkpoints:
            for old in checkpoint_paths(self.run_dir)[: -self.config.keep_checkpoints]:
                old.unlink()

    # ------------------------------------------------------------------ loop

    def run(self) -> SearchResult:
        cfg = self.config
        for epoch in range(self.epoch, cfg.epochs):
            started = time.perf_counter()
            metrics = self._train_epoch(epoch)
            record = self._epoch_record(epoch, metrics, time.perf_counter() - started)
            check_finite(record, f"epoch {epoch + 1}", self._divergence_advice)  # before its checkpoint
            self.epoch = epoch + 1
            self.history.append(record)
            self._save_checkpoint()
            if self.world.is_main:
                self._write_history()
                for failure in self.hooks.epoch_finished(record, str(self.run_dir)):
                    self.progress.message(f"warning: {failure} (epoch {epoch + 1} is saved; the search "
                                          f"goes on)")
            self.progress.end_epoch(_summary(record, cfg.epochs))
        genotype = self.hooks.derive_genotype(self.space)
        if self.world.is_main:
            write_json(self.run_dir / GENOTYPE_FILE, genotype.to_json())
        barrier(self.world)  # every rank returns once the genotype is on disk
        return SearchResult(genotype, self.history, self.run_dir)

    def _divergence_advice(self) -> str:
        kept = checkpoint_paths(self.run_dir)
        where = f"; the last good checkpoint, {kept[-1].name}, is kept" if kept else ""
        return (f"lower --lr (now {self.config.lr:g}) or the step size of controller "
                f"{self.config.controller!r}{where}")

    def _loader_options(self) -> dict[str, Any]:
        return dict(num_workers=self.config.num_workers, pin_memory=self.device.type == "cuda")

    def _train_loader(self, epoch: int) -> Any:
        """This rank's shard of the weight-training split, one pass per epoch.

        With the data on the device: the same batches of indices, augmented there with a generator
        seeded per batch by (seed, epoch, rank, batch).
        """
        if self.device_train is not None:
            seed, rank = self.config.seed, self.world.rank
            stream = DEVICE_TRAIN_AUGMENTATION_STREAM
            return self.device_train.epoch(
                self.config.batch_size, order_seed=derived_seed(seed, epoch, 0), drop_last=True, rank=rank,
                world_size=self.world.size,
                augmentation_seed=lambda batch: derived_seed(seed, epoch, stream, rank, batch),
            )
        return make_loader(self.train_set, self.config.batch_size, shuffle=True, seed=self.config.seed,
                           drop_last=True, epoch=epoch, rank=self.world.rank, world_size=self.world.size,
                           **self._loader_options())

    def _search_batches(self, first_step: int) -> Any:
        """The search split's batches from the run's step ``first_step`` on, cycling over the split.

        Every rank draws the same batch at a step (PARSEC's ω̃ compares the K samples
        on one batch), with its augmentation seeded by (seed, step): a function of the
        step alone, so a resume continues with the same batches (on the device too).
        """
        seed = self.config.seed
        if self.device_search is not None:
            yield from cycling_device_batches(
                self.device_search, self.config.batch_size, seed=seed + 1, start=first_step,
                augmentation_seed=lambda step: derived_seed(seed, step, SEARCH_AUGMENTATION_STREAM),
            )
            return
        batches = cycling_batches(self.search_set, self.config.batch_size, seed=self.config.seed + 1,
                                  start=first_step, **self._loader_options())
        step = first_step
        while True:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(derived_seed(self.config.seed, step, SEARCH_AUGMENTATION_STREAM))
                batch = next(batches)
            yield batch
            step += 1

    def _to_device(self, batch: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = batch
        return x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

    def _train_epoch(self, epoch: int) -> dict[str, float]:
        """One pass over the weight-training split; the search split's loader cycles alongside.

        The step metrics stay on the device (:class:`~nasplug.search.step_totals.StepTotals`): they are
        read, and checked for divergence, at the epoch's end and at most every
        ``step_totals.REDUCE_SECONDS`` in between (for the live line), never once per step.
        """
        if self.world.is_distributed:
            # Each rank augments with its own stream, a function of (seed, epoch, rank): no
            # per-rank generator state has to be checkpointed for an exact resume.
            torch.manual_seed(rank_seed(self.config.seed, epoch, self.world.rank))
        train_loader = self._train_loader(epoch)
        steps = len(train_loader)
        search_batches = self._search_batches(epoch * steps)
        totals = StepTotals(STEP_METRICS, self.device)
        shown: dict[str, float] = {}
        self.supernet.train()
        remaining = self.config.epochs - epoch - 1
        self.progress.start_epoch(f"epoch {epoch + 1}/{self.config.epochs}", steps, remaining)
        for index, (train_batch, search_batch) in enumerate(zip(train_loader, search_batches)):
            step = Step(epoch, index, steps, self.config.epochs, epoch_end=index == steps - 1)
            totals.add(self._step(step, self._to_device(train_batch), self._to_device(search_batch)))
            if step.epoch_end or totals.due():
                first = totals.first_unread + 1
                sums = totals.read()
                where = f"epoch {epoch + 1}, {steps_label(first, index + 1)}"
                check_finite(sums, where, self._divergence_advice)
                if self.progress.live:
                    means = {key: value / (index + 1) for key, value in sums.items()}
                    shown = {**means, **self._live_entropy()}
            if self.progress.live:
                self.progress.step(shown)
        self.scheduler.step()
        return {**{key: value / steps for key, value in sums.items()}, "steps": steps}

    def _live_entropy(self) -> dict[str, float]:
        """The distribution's entropy over its uniform maximum, for the live bar (absent if none)."""
        distribution = self.hooks.report_distribution(self.space)
        ceiling = uniform_entropy(distribution)
        return {"entropy": entropy(distribution) / ceiling} if ceiling > 0 else {}

    def _step(self, step: Step, train: tuple, search: tuple) -> dict[str, torch.Tensor]:
        """One search step; its metrics are float64 0-d tensors on the device (nothing waits for it)."""
        train, search = self._layout(train), self._layout(search)
        samples = [sample.to(self.device) for sample in self._sample(step)]  # host gates: one copy each
        if self.world.is_distributed:
            # Rank r evaluates samples r, r + N, ... on the step's search batch (the same on every
            # rank); all ranks get all feedback.
            local = {k: self._feedback(samples[k], *search) for k in self.world.owned(len(samples))}
            feedback = exchange_feedback(self.world, samples, local)
            del local
        else:
            feedback = [self._feedback(sample, *search) for sample in samples]
        self.hooks.record_feedback(self.space, samples, feedback, step)
        weights = self.hooks.sample_weights(self.space, samples, feedback, step)
        # The weights are host floats from the controller: checking them every step is free.
        check_finite({"sample_weights": weights}, f"epoch {step.epoch + 1}, step {step.index + 1}",
                     self._divergence_advice)
        search_loss = ordered_mean([f.loss for f in feedback])
        search_accuracy = ordered_mean([f.accuracy for f in feedback])
        del feedback  # drop any graph to the gates before the weight step
        train_loss, train_accuracy = self._train_weights(samples, weights, *train)
        self.hooks.update_distribution(self.space, step)
        return {
            "train_loss": train_loss,
            "train_accuracy": train_accuracy,
            "search_loss": search_loss,
            "search_accuracy": search_accuracy,
        }

    def _sample(self, step: Step) -> list[Architecture]:
        """The controller's samples, asked for again until every rank has one (hookspecs)."""
        samples: list[Architecture] = []
        while True:
            drawn = self.hooks.sample_architecture(self.space, step)
            if not drawn:
                raise RunError(f"controller {self.config.controller!r} returned no architecture to sample")
            samples.extend(drawn)
            if len(samples) >= self.world.size:
                return samples

    def _feedback(self, sample: Architecture, x: torch.Tensor, y: torch.Tensor) -> Feedback:
        """Loss, accuracy and log-likelihood of one sample on the search batch, as device tensors.

        The forward runs under bf16 autocast when ``amp`` is on; the loss and the values are
        computed in float32 (the log-likelihood in float64). The graph is kept only for gates.
        """
        keep_graph = sample.requires_grad()
        with torch.set_grad_enabled(keep_graph):
            with self._autocast():
                logits = self.supernet(x, sample)
            loss = F.cross_entropy(logits.float(), y)
        value = loss.detach()
        return Feedback(
            loss=value,
            accuracy=(logits.detach().argmax(1) == y).float().mean(),
            log_likelihood=-value.double() * len(y),
            batch_size=len(y),
            loss_tensor=loss if keep_graph else None,
        )

    def _train_weights(
        self, samples: Sequence[Architecture], weights: Sequence[float], x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Σ_k w_k · loss_k, backward per sample so only one child's graph is alive at a time.

        On N ranks each rank backpropagates its share of the samples on its own
        batch, scaled by N: DDP averages over the ranks, so the step's gradient is
        Σ_k w_k ∇loss_k, each sample's loss on the batch of the rank that trained it.
        Returns the weighted mean loss and accuracy as float64 device tensors (no host sync:
        the weights are host floats, and clipping and SGD stay on the device).
        """
        self.optimizer.zero_grad(set_to_none=True)
        # Σ w·loss and Σ w·accuracy, on the device
        loss_sum = correct = torch.zeros((), dtype=torch.float64, device=self.device)
        share = training_share(self.world, weights)
        for position, (index, weight) in enumerate(share):
            # DDP all-reduces in the share's last backward; the earlier ones accumulate locally.
            last = position == len(share) - 1
            with self.model.no_sync() if self.world.is_distributed and not last else contextlib.nullcontext():
                with self._autocast():
                    logits = self.model(x, samples[index].detached())
                loss = F.cross_entropy(logits.float(), y)
                (weight * self.world.size * loss).backward()
            loss_sum = loss_sum + weight * loss.detach().double()
            correct = correct + weight * (logits.detach().argmax(1) == y).float().mean().double()
        loss_sum, correct = all_sum_tensor(self.world, torch.stack([loss_sum, correct]))
        total = sum(weights)
        if self.config.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.supernet.parameters(), self.config.grad_clip)
        self.optimizer.step()
        if not total:
            return torch.full_like(loss_sum, math.nan), torch.full_like(correct, math.nan)
        return loss_sum / total, correct / total

    # ------------------------------------------------------------------ epoch end

    def _epoch_record(self, epoch: int, metrics: Mapping[str, float], seconds: float) -> dict[str, Any]:
        """The epoch's line of ``history.jsonl``: means over its ``steps`` steps, distribution, genotype."""
        distribution = self.hooks.report_distribution(self.space)
        genotype = self.hooks.derive_genotype(self.space)
        record: dict[str, Any] = {"epoch": epoch + 1, **metrics}
        record["lr"] = self.optimizer.param_groups[0]["lr"]
        record["entropy"] = entropy(distribution) if distribution else None
        record["entropy_max"] = uniform_entropy(distribution) if distribution else None
        if self.config.eval_derived:
            record["derived_accuracy"] = self._evaluate(self.space.architecture_from_genotype(genotype))
        record["seconds"] = round(seconds, 3)
        record["genotype"] = genotype.to_json()
        record["distribution"] = distribution
        record["choices"] = choice_names(self.space, list(distribution))
        return record

    @torch.no_grad()
    def _evaluate(self, architecture: Architecture) -> float:
        """Accuracy of one architecture over the whole search split: deterministic, as a test is measured.

        The images are not augmented (the dataset's plain view, ``DataBundle.train_plain``), and BN
        normalises with the statistics of the fewest near-equal batches of at most
        :data:`EVALUATION_BATCH` images (:func:`evaluation_batch_size`): the same weights and
        architecture give the same number on the same number of ranks. The forward runs under the
        search's autocast. (The step's feedback is measured as DARTS measures it, on one augmented
        search batch.) On N ranks rank r counts images r, r + N, ...; the counts are summed.
        """
        rank, ranks = self.world.rank, self.world.size
        images = len(range(rank, len(self.search_plain), ranks))
        batch_size = evaluation_batch_size(images, self.config.batch_size)
        loader: Any
        if self.device_search is not None:
            loader = self.device_search.in_order(batch_size, rank=rank, world_size=ranks)
        else:
            part: torch.utils.data.Dataset = self.search_plain
            if self.world.is_distributed:
                part = torch.utils.data.Subset(self.search_plain, range(rank, len(self.search_plain), ranks))
            loader = make_loader(part, batch_size, shuffle=False, seed=self.config.seed, epoch=0)
        correct = total = 0
        for batch in loader:
            x, y = self._layout(self._to_device(batch))
            with self._autocast():
                correct += int((self.supernet(x, architecture).argmax(1) == y).sum())
            total += len(y)
        correct, total = all_sum(self.world, [correct, total])
        return correct / total


def evaluation_batch_size(images: int, batch_size: int) -> int:
    """The batch size that cuts ``images`` into the fewest batches of at most max(``batch_size``,
    :data:`EVALUATION_BATCH`) images, near-equal (719 images: 240, 240, 239), so that no batch's BN
    statistics rest on a few left-over images."""
    largest = max(batch_size, EVALUATION_BATCH)
    batches = max(1, math.ceil(images / largest))
    return max(1, math.ceil(images / batches))


def _summary(record: Mapping[str, Any], epochs: int) -> str:
    parts = [f"epoch {record['epoch']}/{epochs}"]
    for key in ("train_loss", "train_accuracy", "search_accuracy", "derived_accuracy"):
        if record.get(key) is not None:
            parts.append(f"{key} {record[key]:.4f}")
    if record.get("entropy") is not None:
        parts.append(f"entropy {record['entropy']:.3f} of max {record['entropy_max']:.3f}")
    parts.append(f"{record['seconds']:.1f}s")
    return "  ".join(parts)
