"""Running a search in its folder: the lock, the folder's checks, threads and environment, start or resume."""

from __future__ import annotations

import contextlib
from pathlib import Path

from nasplug.core.controller import Controller
from nasplug.core.errors import CheckpointError
from nasplug.data import DataBundle
from nasplug.plugin import Hooks
from nasplug.runs.checkpoint import CHECKPOINT_DIR, checkpoint_paths, explained_write_failures, load_checkpoint
from nasplug.runs.environment import describe, environment_record, start_threads
from nasplug.runs.folder import claim_folder
from nasplug.runs.lock import run_lock
from nasplug.runs.progress import Progress
from nasplug.runs.run_config import read_saved_config
from nasplug.search.config import RunError, SearchConfig
from nasplug.search.distributed import World, current_world
from nasplug.search.engine import SearchEngine, SearchResult


def run_search(
    config: SearchConfig,
    run_dir: str | Path,
    *,
    hooks: Hooks,
    resume_from: str | Path | None = None,
    progress: Progress | None = None,
    world: World | None = None,
    data: DataBundle | None = None,
    controller: type[Controller] | Controller | None = None,
    threads: int | None = None,
) -> SearchResult:
    """Run (or, with ``resume_from``, continue) a search writing into ``run_dir``.

    ``hooks`` is the run's plugin manager (nasplug.plugin.load_plugins), the one every lookup of
    the run goes through. ``resume_from`` is a checkpoint file or the run directory itself: its latest
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
    resume = resume_from is not None
    lock = run_lock(run_dir, "nasplug run") if world.is_main else contextlib.nullcontext()
    failures = explained_write_failures(run_dir, "run")
    with lock, failures, hooks.run_scope():  # the controller the engine registers leaves with the run
        recorded = None
        if resume:
            saved, recorded = read_saved_config(run_dir, SearchConfig)
            if saved != config:
                raise RunError(f"{run_dir} holds a run with a different configuration")
        if world.is_main:
            claim_folder(run_dir, resume=resume, error=RunError, choose="folder")
        threads, warning = start_threads(threads, recorded)
        engine = SearchEngine(config, run_dir, hooks, progress, world, data=data, controller=controller)
        engine.environment = environment_record(threads, engine.device, engine.distributions)
        engine.progress.message(describe(engine.environment))
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


def resume_target(target: Path) -> Path:
    """The run directory of ``--resume TARGET``: a run directory, or a file in its ``checkpoints/``."""
    if target.is_dir():
        return target
    if not target.exists():
        raise RunError(f"{target}: no such run directory or checkpoint to resume")
    if target.parent.name != CHECKPOINT_DIR or target.suffix != ".pt":
        raise RunError(f"{target}: --resume takes a run directory or one of its {CHECKPOINT_DIR}/*.pt files")
    return target.parent.parent


def _resume_checkpoint(run_dir: Path, resume_from: str | Path | None) -> Path | None:
    """The checkpoint to restore, or None to start at epoch 0 (a fresh run, or one stopped before epoch 1)."""
    if resume_from is None:
        return None
    if Path(resume_from).is_dir():
        paths = checkpoint_paths(run_dir)
        return paths[-1] if paths else None
    return Path(resume_from)
