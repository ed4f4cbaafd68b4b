"""The search engine: the epochs of a search around its step, with the history and checkpoints.

:class:`SearchEngine` builds a run's parts — the splits and their batches (nasplug.search.batches),
the space and controller, the supernet and its optimiser, the precision policy (nasplug.runs.device)
and the step (nasplug.search.step) — and runs the remaining epochs. At each epoch end it records
the distribution, evaluates the derived architecture (nasplug.search.evaluation), appends to
``history.jsonl`` and writes an atomic checkpoint from which ``--resume`` continues bit for bit
(on CPU).

Under torchrun every rank runs the same hooks on the same controller state;
the samples are spread over the ranks, their feedback is shared, the shared
weights train under DistributedDataParallel and rank 0 writes the files
(docs/distributed.md).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import nn

from nasplug.core.architecture import Architecture, Step, entropy
from nasplug.core.controller import Controller
from nasplug.core.errors import CheckpointError, NasplugError
from nasplug.core.options import resolve_options
from nasplug.core.space import Genotype
from nasplug.data import DataBundle
from nasplug.networks.build import allocate
from nasplug.networks.export_metadata import write_run_preprocessing
from nasplug.plugin import Hooks, describe, guard_plugin
from nasplug.runs.checkpoint import (
    check_loadable,
    check_progress,
    checkpoint_paths,
    load_checkpoint,
    optimisation_state,
    restore_optimisation,
    save_epoch_checkpoint,
)
from nasplug.runs.device import Precision, resolve_device
from nasplug.runs.divergence import check_finite, divergence_advice
from nasplug.runs.files import write_json, write_jsonl
from nasplug.runs.history import check_history_record, choice_names, uniform_entropy
from nasplug.runs.optimiser import cosine_schedule, sgd
from nasplug.runs.progress import Progress
from nasplug.runs.run_config import write_saved_config
from nasplug.search.batches import SearchBatches
from nasplug.search.config import RunError, SearchConfig
from nasplug.search.controller_choice import build_space_and_controller
from nasplug.search.distributed import (
    World,
    barrier,
    check_identical,
    current_world,
    data_parallel,
    local_main_first,
    rank_seed,
)
from nasplug.search.evaluation import search_split_accuracy
from nasplug.search.step import STEP_METRICS, SearchStep
from nasplug.search.step_totals import StepTotals, steps_label
from nasplug.search.summary import SUMMARY_FILE, RunSummary, summarise, too_few_steps
from nasplug.search.target import TARGET_METRICS, CostTarget, parse_target

CHECKPOINT_FORMAT = "nasplug-search-1"
HISTORY_FILE = "history.jsonl"
GENOTYPE_FILE = "genotype.json"
SEARCH_STATE_KEYS = ("config", "epoch", "supernet", "optimizer", "scheduler", "controller", "rng", "history")


@attrs.frozen
class SearchResult:
    genotype: Genotype
    history: list[dict[str, Any]]
    run_dir: Path
    summary: RunSummary | None = None


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
        self.precision = Precision.choose(self.device, config.amp, config.channels_last)
        torch.manual_seed(config.seed)

        with local_main_first(self.world):  # one download per machine
            self.data: DataBundle = data if data is not None else hooks.load_dataset(
                config.dataset, config.data_dir, augment=True, cutout=config.cutout,
                normalisation=config.normalisation, input_size=config.input_size,
            )
        self.batches = SearchBatches(self.data, config, self.device, self.world, self.progress)

        self.space, self.controller, provider = build_space_and_controller(
            config, hooks, self.data.shape, controller
        )
        self.controller_owner = describe(provider, "controller")
        # The distributions whose versions config.json records, and the environment run_search sets.
        self.distributions = [hooks.space_entry(config.space).provider.distribution, provider.distribution]
        self.environment: dict[str, Any] = {}
        hooks.add_controller(self.controller, config.controller, provider)
        self.target = None if config.target is None else CostTarget(
            parse_target(config.target), hooks.build_cost_model(config.cost_model, self.space),
            config.cost_model, config.target_rule)
        if self.target is not None:  # stored as priced: a file resolved, with its sha256 (a resume checks it)
            name, argument = config.cost_model.partition(":")[0], self.target.model.recorded_argument()
            self.config = config = attrs.evolve(config, cost_model=name if argument is None else f"{name}:{argument}")
            self.target.model_name = config.cost_model
            self.target.owner = describe(hooks.cost_models()[name].provider, "plugin")
            if self.target.model.priced_as():
                self.progress.message(f"priced as: {self.target.model.priced_as()}")

        supernet = allocate(self.space.build_supernet, f"the {config.space} supernet", config.space_options,
                            self.device)
        self.supernet: nn.Module = supernet.to(self.device)
        if self.precision.channels_last:
            self.supernet.to(memory_format=torch.channels_last)
        model = data_parallel(self.supernet, self.device) if self.world.is_distributed else self.supernet
        self.optimizer = sgd(self.supernet.parameters(), config.lr, config.momentum, config.weight_decay,
                             nesterov=config.nesterov)
        self.scheduler = cosine_schedule(self.optimizer, config.epochs, config.lr_min)
        self.step = SearchStep(self.hooks, self.space, config.controller, self.supernet, model, self.optimizer,
                               config.grad_clip, self.precision, self.world, self._divergence_advice,
                               self.target)
        self.epoch = 0
        self.history: list[dict[str, Any]] = []
        self.batches.check_sizes()

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

    def _divergence_advice(self) -> str:
        return divergence_advice(self.run_dir, self.config.lr, self.config.controller)

    # ------------------------------------------------------------------ state

    def start(self) -> None:
        """A fresh run: take an earlier run's distribution if ``init_from`` is set, then write the config.

        The config is written last, so a start refused here leaves no folder behind.
        """
        if self.config.init_from is not None:
            source = latest_checkpoint(Path(self.config.init_from))
            earlier = load_checkpoint(source)
            if earlier.get("format") != CHECKPOINT_FORMAT:
                raise CheckpointError(f"{source}: not a search checkpoint (format {earlier.get('format')!r}); "
                                      f"--init-from takes a search run's folder or checkpoint")
            if not isinstance(earlier.get("controller"), dict):
                raise CheckpointError(f"{source}: damaged: its controller state is not a dict")
            guard_plugin(self.controller_owner, "transfer_state",
                         lambda: self.controller.transfer_state(earlier["controller"]))
            self.progress.message(f"controller initialised from {self.config.init_from}")
        if self.world.is_main:
            priced = self.target.model.priced_as() if self.target is not None else {}
            write_saved_config(self.run_dir, self.config, {**self.environment, **({"priced_as": priced} if priced else {})})
            write_run_preprocessing(self.run_dir, self.data.preprocessing)

    def state_dict(self) -> dict[str, Any]:
        return {
            **optimisation_state(CHECKPOINT_FORMAT, self.config.to_json(), self.epoch, self.optimizer,
                                 self.scheduler, self.device),
            "supernet": self.supernet.state_dict(),
            "controller": guard_plugin(self.controller_owner, "state_dict", self.controller.state_dict),
            "history": self.history,
            "world_size": self.world.size,
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        if state.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"not a search checkpoint (format {state.get('format')!r})")
        missing = [key for key in SEARCH_STATE_KEYS if key not in state]
        if missing:
            raise CheckpointError(f"damaged: it has no {', '.join(map(repr, missing))} entry")
        current = self.config.to_json()
        # A setting newer than the checkpoint is absent from it and at its default in config.json too;
        # so is an option a resume recorded later (_record_restored_options), which the state decides.
        saved = state["config"]
        if not isinstance(saved, dict) or not isinstance(saved.get("controller_options", {}), dict) or {
            **current, **saved,
            "controller_options": {**current["controller_options"], **saved.get("controller_options", {})},
        } != current:
            raise RunError("the checkpoint was written by a run with a different configuration")
        check_progress(state, self.config.epochs, "history", check_history_record)
        if not isinstance(state["controller"], dict):
            raise CheckpointError(f"damaged: its controller state is a {type(state['controller']).__name__}, "
                                  f"not the dict {self.controller_owner}'s state_dict() returns")
        try:
            self.supernet.load_state_dict(state["supernet"])
            guard_plugin(self.controller_owner, "load_state_dict",
                         lambda: self.controller.load_state_dict(state["controller"]))
            restore_optimisation(state, self.optimizer, self.scheduler, self.device)
        except (KeyError, RuntimeError, TypeError, ValueError) as exc:
            raise CheckpointError(f"checkpoint does not match this run: {exc}") from exc
        self._record_restored_options()
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
            write_jsonl(self.run_dir / HISTORY_FILE, self.history)

    def _record_restored_options(self) -> None:
        """The options a controller's state put back (a run started under older defaults) go to config.json.

        A resumed run keeps the behaviour it started with; config.json says what is in effect.
        """
        given = self.config.controller_options
        options = type(self.controller).options
        started = resolve_options(options, given, f"controller {self.config.controller!r}")
        restored = {key: value for key, value in self.controller.config.items()
                    if key in options and started[key] != value}
        if not restored:
            return
        self.config = attrs.evolve(self.config, controller_options={**given, **restored})
        self.progress.message("resumed with the settings the run started with: "
                              + ", ".join(f"{key}={value}" for key, value in sorted(restored.items())))
        if self.world.is_main:
            write_saved_config(self.run_dir, self.config, self.environment)

    def _check_ranks_agree(self) -> None:
        """Verify (not assume) that every rank holds the same controller state and weights."""
        check_identical(
            self.world,
            {
                "the controller state": guard_plugin(self.controller_owner, "state_dict",
                                                     self.controller.state_dict),
                "the supernet weights": dict(self.supernet.named_parameters()),
            },
        )

    def _save_checkpoint(self) -> None:
        self._check_ranks_agree()
        if not self.world.is_main:
            return
        state = self.state_dict()
        check_loadable(state["controller"], self.controller_owner)  # else every resume would fail
        save_epoch_checkpoint(self.run_dir, self.epoch, state, self.config.keep_checkpoints)

    # ------------------------------------------------------------------ loop

    def run(self) -> SearchResult:
        cfg = self.config
        for epoch in range(self.epoch, cfg.epochs):
            started = time.perf_counter()
            space_before = self.hooks.space_fingerprint(self.space)
            metrics = self._train_epoch(epoch)
            self.hooks.check_space_unchanged(self.space, space_before)
            record = self._epoch_record(epoch, metrics, time.perf_counter() - started)
            trained = {key: value for key, value in record.items() if key != "benchmark"}  # table values may be NaN
            check_finite(trained, f"epoch {epoch + 1}", self._divergence_advice)  # before its checkpoint
            self.epoch = epoch + 1
            self.history.append(record)
            self._save_checkpoint()
            if self.world.is_main:
                write_jsonl(self.run_dir / HISTORY_FILE, self.history)
                for failure in self.hooks.epoch_finished(record, str(self.run_dir)):
                    self.progress.message(f"warning: {failure} (epoch {epoch + 1} is saved; the search "
                                          f"goes on)")
            self.progress.end_epoch(_summary(record, cfg.epochs))
            if epoch == 0 and too_few_steps(self.history):
                self.progress.message(f"warning: {too_few_steps(self.history)}")
        genotype = self.hooks.derive_genotype(self.space)
        summary = summarise(self.history, self.run_dir, type(self.controller).learns_distribution)
        if self.world.is_main:
            # The summary first: genotype.json marks the search finished (nasplug protocol skips it).
            write_json(self.run_dir / SUMMARY_FILE, summary.to_json())
            write_json(self.run_dir / GENOTYPE_FILE, genotype.to_json())
        barrier(self.world)  # every rank returns once the genotype is on disk
        return SearchResult(genotype, self.history, self.run_dir, summary)

    def _train_epoch(self, epoch: int) -> dict[str, float]:
        """One pass over the weight-training split; the search split's batches cycle alongside.

        The step metrics stay on the device (:class:`~nasplug.search.step_totals.StepTotals`): they are
        read, and checked for divergence, at the epoch's end and at most every
        ``step_totals.REDUCE_SECONDS`` in between (for the live line), never once per step.
        """
        if self.world.is_distributed:
            # Each rank augments with its own stream, a function of (seed, epoch, rank): no
            # per-rank generator state has to be checkpointed for an exact resume.
            torch.manual_seed(rank_seed(self.config.seed, epoch, self.world.rank))
        train_batches = self.batches.train_epoch(epoch)
        steps = len(train_batches)
        search_batches = self.batches.search_steps(epoch * steps)
        totals = StepTotals(STEP_METRICS + (TARGET_METRICS if self.target else ()), self.device)
        shown: dict[str, float] = {}
        self.supernet.train()
        remaining = self.config.epochs - epoch - 1
        self.progress.start_epoch(f"epoch {epoch + 1}/{self.config.epochs}", steps, remaining)
        for index, (train_batch, search_batch) in enumerate(zip(train_batches, search_batches)):
            step = Step(epoch, index, steps, self.config.epochs, epoch_end=index == steps - 1)
            totals.add(self.step(step, self.precision.batch(train_batch), self.precision.batch(search_batch)))
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

    def evaluate(self, architecture: Architecture) -> float:
        """Accuracy of ``architecture`` on the current weights over the whole search split (deterministic)."""
        return search_split_accuracy(self.supernet, architecture, self.batches, self.precision, self.world)

    def _epoch_record(self, epoch: int, metrics: Mapping[str, float], seconds: float) -> dict[str, Any]:
        """The epoch's line of ``history.jsonl``: means over its ``steps`` steps, distribution, genotype."""
        distribution = self.hooks.report_distribution(self.space)
        genotype = self.hooks.derive_genotype(self.space)
        record: dict[str, Any] = {"epoch": epoch + 1, **metrics}
        record["lr"] = self.optimizer.param_groups[0]["lr"]
        record["entropy"] = entropy(distribution) if distribution else None
        record["entropy_max"] = uniform_entropy(distribution) if distribution else None
        derived = self.space.architecture_from_genotype(genotype)
        if self.config.eval_derived:
            record["derived_accuracy"] = self.evaluate(derived)
        if self.target is not None:  # the derived genotype's cost, and its reward where its accuracy is known
            record["derived_cost"] = self.target.price(derived)
            if "derived_accuracy" in record:
                record["derived_reward"] = record["derived_accuracy"] * self.target.factor(record["derived_cost"])
        benchmark = self._benchmark_results(genotype)
        if benchmark:  # a tabular benchmark's truth about the derived genotype
            record["benchmark"] = benchmark
        record["seconds"] = round(seconds, 3)
        record["genotype"] = genotype.to_json()
        record["distribution"] = distribution
        record["choices"] = choice_names(self.space, list(distribution))
        record["derived"] = {key: list(choices) for key, choices in derived.choices().items()}
        record["prunes"] = bool(getattr(self.controller, "prunes", False))
        return record

    def _benchmark_results(self, genotype: Genotype) -> dict[str, float]:
        """The space's table lookup; a failing table is a warning, never the end of the search."""
        try:
            return dict(self.space.benchmark_results(genotype))
        except NasplugError as exc:
            self.progress.message(f"warning: no benchmark numbers for the derived genotype: {exc}")
            return {}


def latest_checkpoint(run_dir: Path) -> Path:
    """The newest epoch checkpoint of ``run_dir``, or a RunError where there is none."""
    paths = checkpoint_paths(run_dir)
    if not paths:
        raise RunError(f"{run_dir}: no checkpoint to resume from (nothing in checkpoints/)")
    return paths[-1]


def _summary(record: Mapping[str, Any], epochs: int) -> str:
    parts = [f"epoch {record['epoch']}/{epochs}"]
    for key in ("train_loss", "train_accuracy", "search_accuracy", "derived_accuracy", "search_reward",
                "derived_cost"):
        if record.get(key) is not None:
            parts.append(f"{key} {record[key]:.4f}")
    if record.get("entropy") is not None:
        parts.append(f"entropy {record['entropy']:.3f} of max {record['entropy_max']:.3f}")
    headline = next((item for item in record.get("benchmark", {}).items() if "accuracy" in item[0]), None)
    if headline is not None:
        parts.append(f"benchmark {headline[0]} {headline[1]:.2f}")
    parts.append(f"{record['seconds']:.1f}s")
    return "  ".join(parts)
