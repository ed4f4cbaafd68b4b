"""The ``tensorboard`` logger: each epoch's numbers and choice probabilities as TensorBoard scalars.

Events go to ``tensorboard/`` in the run (or training) directory; view them with
``tensorboard --logdir RUN_DIR``. Search records log under ``search/``, every
choice's probability under ``probability/<decision>/<choice>``; training
records under ``train/``. The step is the epoch. A resumed run purges events at
and after the epoch it restarts from, so curves have no doubled points.
Needs the optional ``tensorboard`` package (``pip install 'nasplug[tensorboard]'``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nasplug.core.markers import hookimpl
from nasplug.loggers.csv import scalar_fields
from nasplug.plugin import PluginError

LOG_DIR = "tensorboard"


def _summary_writer() -> type:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        raise PluginError("the tensorboard logger needs the tensorboard package: "
                          "pip install 'nasplug[tensorboard]'") from exc
    return SummaryWriter


class TensorBoardLogger:
    """One SummaryWriter per run directory, flushed after every epoch."""

    def __init__(self) -> None:
        self._writer_class = _summary_writer()  # fail at start, not after the first epoch
        self._writers: dict[Path, Any] = {}

    def _writer(self, folder: str, epoch: int) -> Any:
        path = Path(folder) / LOG_DIR
        if path not in self._writers:
            self._writers[path] = self._writer_class(log_dir=str(path), purge_step=epoch)
        return self._writers[path]

    def _log(self, folder: str, prefix: str, record: Mapping[str, Any]) -> Any:
        epoch = int(record["epoch"])
        writer = self._writer(folder, epoch)
        for key, value in scalar_fields(record).items():
            if key != "epoch" and value is not None:
                writer.add_scalar(f"{prefix}/{key}", value, epoch)
        return writer

    @hookimpl
    def epoch_finished(self, record: Mapping[str, Any], run_dir: str) -> None:
        writer = self._log(run_dir, "search", record)
        names = record.get("choices", {})
        for key, probabilities in (record.get("distribution") or {}).items():
            labels = names.get(key) or [str(index) for index in range(len(probabilities))]
            for label, probability in zip(labels, probabilities):
                writer.add_scalar(f"probability/{key}/{label}", probability, record["epoch"])
        writer.flush()

    @hookimpl
    def train_epoch_finished(self, record: Mapping[str, Any], out_dir: str) -> None:
        self._log(out_dir, "train", record).flush()
