"""The configuration of a search, saved as the run's ``config.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import attrs

from nasplug.core.errors import NasplugError
from nasplug.data import NORMALISATIONS
from nasplug.data.device import DEVICE_DATA_CHOICES
from nasplug.runs.optimiser import DARTS_SGD
from nasplug.core.schema import SEED_RANGE
from nasplug.runs.run_config import SavedConfig, read_saved_config, reject_invalid, reject_malformed


class RunError(NasplugError, RuntimeError):
    """The run directory or configuration cannot be used; the message says which and why."""


@attrs.frozen
class SearchConfig(SavedConfig):
    """Everything that defines a search; saved as ``config.json`` so a resume needs only the folder.

    The search split is ``search_images`` training images when set (MdeNAS: 5,000),
    else the ``1 - train_fraction`` part; ``normalisation`` is one of
    ``nasplug.data.NORMALISATIONS``; ``cutout`` (pixels, 0 = off) joins the augmentation
    of both splits (PARSEC §4.2 fine-tunes with the evaluation's). ``lr`` follows a cosine schedule down to
    ``lr_min`` (the optimiser's defaults are DARTS's, nasplug.runs.optimiser).
    ``data_on_device`` (``auto``, ``on``, ``off``) holds both splits on the device and augments there
    (nasplug.data.device); ``auto`` does so on CUDA for datasets that offer it and fit.
    ``amp`` (bf16 autocast of the search's forwards) and ``channels_last`` (the supernet's and the
    batches' memory layout): None means on for CUDA, off elsewhere, as for ``nasplug train``.
    """

    error: ClassVar[type[Exception]] = RunError
    kind: ClassVar[str] = "run"
    BOUNDS: ClassVar[dict[str, tuple[float, float]]] = {
        "epochs": (1, 100_000), "batch_size": (1, 1 << 20), "seed": SEED_RANGE, "lr": (0, 1e6),
        "lr_min": (0, 1e6), "momentum": (0, 1), "weight_decay": (0, 1), "grad_clip": (0, 1e6),
        "train_fraction": (0, 1), "search_images": (1, 1 << 31), "input_size": (1, 8192), "cutout": (0, 8192),
        "num_workers": (0, 1024), "keep_checkpoints": (0, 1 << 20),
    }
    """Every numeric field's inclusive range (nasplug.core.schema); the checks below narrow some."""

    space: str
    controller: str
    dataset: str = "digits"
    data_dir: str | None = None
    epochs: int = 50
    batch_size: int = 64
    seed: int = 0
    lr: float = DARTS_SGD.lr
    lr_min: float = DARTS_SGD.lr_min
    momentum: float = DARTS_SGD.momentum
    nesterov: bool = False
    weight_decay: float = DARTS_SGD.weight_decay
    grad_clip: float = DARTS_SGD.grad_clip
    train_fraction: float = 0.5
    search_images: int | None = None
    input_size: int | None = None
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
    target: str | None = None
    cost_model: str | None = None
    target_rule: str = "soft"

    def __attrs_post_init__(self) -> None:
        reject_malformed(self, RunError, "search configuration")
        checks = {
            "epochs": self.epochs >= 1,
            "batch_size": self.batch_size >= 1,
            "train_fraction": 0.0 < self.train_fraction < 1.0,
            "search_images": self.search_images is None or self.search_images >= 1,
            "input_size": self.input_size is None or self.input_size >= 1,
            "nesterov": not self.nesterov or self.momentum > 0,
            "normalisation": self.normalisation in NORMALISATIONS,
            "cutout": self.cutout >= 0,
            "data_on_device": self.data_on_device in DEVICE_DATA_CHOICES,
            "lr": self.lr > 0,
            "lr_min": 0 <= self.lr_min <= self.lr,
            "keep_checkpoints": self.keep_checkpoints >= 0,
            "target_rule": self.target_rule in ("soft", "hard"),
        }
        reject_invalid(self, checks, RunError, "search configuration")
        if (self.target is None) != (self.cost_model is None):
            raise RunError("a cost target needs both --target (e.g. latency=5ms) and --cost-model (what prices "
                           "a sample); one was given without the other")


def read_config(run_dir: Path) -> SearchConfig:
    """The run's configuration from its ``config.json``, without the environment record."""
    return read_saved_config(run_dir, SearchConfig)[0]
