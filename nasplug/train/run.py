"""Running a training in its folder: the lock, the folder's checks, threads and environment, start or resume."""

from __future__ import annotations

from pathlib import Path

from nasplug.data import DataBundle
from nasplug.networks.export_metadata import PREPROCESSING_FILE, write_run_preprocessing
from nasplug.plugin import Hooks
from nasplug.runs.checkpoint import checkpoint_paths, explained_write_failures, load_checkpoint
from nasplug.runs.environment import describe, environment_record, start_threads
from nasplug.runs.files import write_json
from nasplug.runs.folder import claim_folder, refuse_unnamable
from nasplug.runs.lock import run_lock
from nasplug.runs.progress import Progress
from nasplug.runs.run_config import read_saved_config, write_saved_config
from nasplug.train.config import TrainConfig, TrainError
from nasplug.train.trainer import GENOTYPE_FILE, Trainer, TrainResult


def train_network(
    config: TrainConfig | None,
    out_dir: str | Path,
    *,
    hooks: Hooks,
    resume: bool = False,
    progress: Progress | None = None,
    threads: int | None = None,
    data: DataBundle | None = None,
) -> TrainResult:
    """Train ``config``'s network from scratch in ``out_dir``, or continue it there with ``resume``.

    ``hooks`` is the run's plugin manager. A fresh run needs an absent or empty ``out_dir``. With
    ``resume`` the configuration is read from ``out_dir`` (``config``, if given, must equal it)
    and training continues from the latest checkpoint. ``data``: a user's own data, trained on instead
    of loading ``config.dataset``.
    """
    out_dir = Path(out_dir)
    if not resume and config is None:
        raise TrainError("a training configuration is needed unless resuming")
    refuse_unnamable(out_dir, TrainError)
    if out_dir.exists() and not out_dir.is_dir():
        raise TrainError(f"{out_dir} is a file, not a folder; choose another output directory")
    with run_lock(out_dir, "nasplug train"), explained_write_failures(out_dir, "train"):
        recorded = None
        if resume:
            saved, recorded = read_saved_config(out_dir, TrainConfig)
            if config is not None and config != saved:
                raise TrainError(f"{out_dir} was trained with a different configuration; resume it "
                                 f"without one")
            config = saved
        claim_folder(out_dir, resume=resume, error=TrainError, choose="output directory")
        threads, warning = start_threads(threads, recorded)
        trainer = Trainer(config, out_dir, hooks, progress or Progress(False), data)
        space_distribution = hooks.space_entry(config.space).provider.distribution
        environment = environment_record(threads, trainer.device, [space_distribution])
        trainer.progress.message(describe(environment))
        if warning:
            trainer.progress.message(f"warning: {warning}")
        checkpoints = checkpoint_paths(out_dir)
        if resume and checkpoints:
            trainer.restore(load_checkpoint(checkpoints[-1]))
            trainer.progress.message(f"resuming {out_dir} after epoch {trainer.epoch}")
        if resume:  # a kill between config.json and the files written after it: write what is missing
            if not (out_dir / GENOTYPE_FILE).is_file():
                write_json(out_dir / GENOTYPE_FILE, config.genotype)
            if not (out_dir / PREPROCESSING_FILE).is_file():
                write_run_preprocessing(out_dir, trainer.data.preprocessing)
        else:  # written only once the network is built: a bad configuration leaves nothing behind
            write_saved_config(out_dir, config, environment)
            write_json(out_dir / GENOTYPE_FILE, config.genotype)
            write_run_preprocessing(out_dir, trainer.data.preprocessing)
        return trainer.run()
