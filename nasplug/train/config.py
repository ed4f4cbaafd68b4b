"""What defines a training run: :class:`TrainConfig` (saved as ``config.json``) and the protocols behind its defaults.

:func:`training_config` turns a genotype reference and a dataset into a TrainConfig with the
paper's evaluation protocol as defaults (DARTS's CIFAR and ImageNet protocols, a MobileNet-style
one for proxyless-mbv2, small ones for digits), then the caller's overrides.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import attrs

from nasplug.core.errors import NasplugError
from nasplug.core.options import resolve_options
from nasplug.core.space import DataShape
from nasplug.data import folder as folder_dataset
from nasplug.networks.genotypes import load_genotype
from nasplug.plugin import Hooks
from nasplug.runs.optimiser import DARTS_SGD
from nasplug.core.schema import SEED_RANGE
from nasplug.runs.run_config import SavedConfig, read_saved_config, reject_invalid, reject_malformed

SCHEDULES = ("cosine", "step", "linear")


class TrainError(NasplugError, RuntimeError):
    """A training configuration or output directory cannot be used; the message says which and why."""


# ---------------------------------------------------------------------------- configuration


@attrs.frozen
class TrainConfig(SavedConfig):
    """Everything that defines a training run; saved as ``config.json`` so a resume needs only the folder.

    The protocol fields default to DARTS's CIFAR evaluation protocol;
    :func:`training_config` applies the evaluation protocol of the dataset and space.
    ``genotype`` is the genotype's JSON (the folder is self-contained);
    ``network_options`` are the space's resolved network options, where a
    darts-cell network's ``drop_path`` is the final drop-path probability.
    ``amp``/``channels_last`` None means "on for CUDA, off elsewhere".
    """

    error: ClassVar[type[Exception]] = TrainError
    kind: ClassVar[str] = "training"
    BOUNDS: ClassVar[dict[str, tuple[float, float]]] = {
        "input_size": (1, 8192), "epochs": (1, 100_000), "batch_size": (1, 1 << 20), "lr": (0, 1e6),
        "lr_min": (0, 1e6), "lr_decay": (0, 1), "momentum": (0, 1), "weight_decay": (0, 1),
        "grad_clip": (0, 1e6), "label_smoothing": (0, 1), "cutout": (0, 8192), "auxiliary_weight": (0, 100),
        "seed": SEED_RANGE, "num_workers": (0, 1024), "keep_checkpoints": (0, 1 << 20),
    }
    """Every numeric field's inclusive range (nasplug.core.schema); the checks below narrow some."""

    space: str
    genotype: dict[str, Any]
    dataset: str
    network_options: dict[str, Any] = attrs.field(factory=dict)
    genotype_source: str = ""
    data_dir: str | None = None
    input_size: int | None = None
    epochs: int = 600
    batch_size: int = 96
    lr: float = DARTS_SGD.lr
    lr_min: float = 0.0
    schedule: str = "cosine"
    lr_decay: float = 0.97
    momentum: float = DARTS_SGD.momentum
    nesterov: bool = False
    weight_decay: float = DARTS_SGD.weight_decay
    grad_clip: float = DARTS_SGD.grad_clip
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
        reject_malformed(self, TrainError, "training configuration")
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


@attrs.frozen
class Protocol:
    """An evaluation protocol: TrainConfig fields, and network options for spaces that declare them.

    The defaults ``nasplug train`` starts from for a dataset and space; a paper's recipe file
    (nasplug.recipes) may override them.
    """

    settings: Mapping[str, Any] = attrs.field(factory=dict)
    network: Mapping[str, Any] = attrs.field(factory=dict)


DATASET_PROTOCOLS: dict[str, Protocol] = {
    # DARTS train.py: TrainConfig's defaults (600 epochs, batch 96, SGD 0.025 cosine, wd 3e-4,
    # cutout 16, auxiliary 0.4, grad clip 5) with 20 cells of C=36 and drop-path 0.2.
    "cifar10": Protocol({}, {"layers": 20, "channels": 36, "drop_path": 0.2}),
    "cifar100": Protocol({}, {"layers": 20, "channels": 36, "drop_path": 0.2}),
    # DARTS train_imagenet.py: 250 epochs, batch 128, SGD 0.1 decayed 0.97 per epoch, wd 3e-5,
    # label smoothing 0.1, auxiliary 0.4, no cutout, no drop-path, 14 cells of C=48.
    "imagenet": Protocol(
        {"epochs": 250, "batch_size": 128, "lr": 0.1, "schedule": "step", "lr_decay": 0.97,
         "weight_decay": 3e-5, "label_smoothing": 0.1, "cutout": 0},
        {"layers": 14, "channels": 48, "drop_path": 0.0},
    ),
    # 8×8 digits: the CIFAR protocol shrunk to the search network's size and a minute of CPU.
    "digits": Protocol({"epochs": 30, "batch_size": 64, "cutout": 0},
                     {"layers": 8, "channels": 16, "drop_path": 0.1}),
}  # fmt: skip

MOBILENET_SPACES = frozenset({"proxyless-mbv2"})
"""Spaces whose networks train with the MobileNet-style protocol instead of DARTS's."""

MOBILENET_PROTOCOL = Protocol(
    {"nesterov": True, "weight_decay": 4e-5, "label_smoothing": 0.1, "auxiliary_weight": 0.0,
     "grad_clip": 0.0, "schedule": "cosine", "lr_min": 0.0},
)  # fmt: skip
"""ProxylessNAS's ImageNet training: SGD with Nesterov momentum, cosine, wd 4e-5, label smoothing 0.1."""

MOBILENET_IMAGENET = Protocol({"epochs": 300, "batch_size": 256})
MOBILENET_LR_PER_256 = 0.05
"""The MobileNet-style learning rate for a batch of 256, scaled linearly with the batch size."""


def protocol_for(space: str, dataset: str, data_dir: str | Path | None = None,
                 shape: DataShape | None = None) -> Protocol:
    """The defaults of training a ``space`` network on ``dataset`` (see docs/train.md).

    A ``folder`` dataset takes CIFAR-10's protocol for small images and ImageNet's
    for large ones, the same split its loader makes (nasplug.data.folder); so does a user's own
    dataset of ``shape`` (the Python API's ``data=``).
    """
    if dataset == "folder":
        dataset = "cifar10" if folder_dataset.is_small(None if data_dir is None else Path(data_dir)) else "imagenet"
    elif shape is not None and dataset not in DATASET_PROTOCOLS:
        dataset = "cifar10" if shape.input_size <= folder_dataset.SMALL_IMAGE_MAX else "imagenet"
    if dataset not in DATASET_PROTOCOLS:
        raise TrainError(f"no training protocol for dataset {dataset!r}; protocols exist for: "
                         f"{', '.join(sorted(DATASET_PROTOCOLS))} and folder")
    base = DATASET_PROTOCOLS[dataset]
    if space not in MOBILENET_SPACES:
        return base
    settings = {**base.settings, **MOBILENET_PROTOCOL.settings}
    if dataset == "imagenet":
        settings.update(MOBILENET_IMAGENET.settings)
    return Protocol(settings, base.network)


def has_protocol(dataset: str, shape: DataShape | None = None) -> bool:
    """Whether :func:`protocol_for` knows how to train on ``dataset`` (a user's own of ``shape``: always)."""
    return shape is not None or dataset.lower() in DATASET_PROTOCOLS or dataset.lower() == "folder"


def _default(field: str) -> Any:
    return getattr(attrs.fields(TrainConfig), field).default


def training_config(
    reference: str,
    *,
    dataset: str,
    space: str | None = None,
    network_options: Mapping[str, Any] | None = None,
    hooks: Hooks,
    shape: DataShape | None = None,
    **settings: Any,
) -> TrainConfig:
    """The TrainConfig of training genotype ``reference`` on ``dataset``: the evaluation protocol, then the overrides.

    ``network_options`` (``-o key=value``, ``--layers``, ``--drop-path``...) are
    checked against the space's declared network options; ``settings`` are
    TrainConfig fields, None meaning "the protocol's value". Where the space
    declares an ``auxiliary`` option, the head is built iff the auxiliary weight
    is positive, unless given explicitly. ``shape`` is that of a user's own dataset (not installed,
    so named as given).
    """
    dataset = dataset if shape is not None else dataset.lower()
    entry, genotype = load_genotype(reference, hooks, space)
    protocol = protocol_for(entry.name, dataset, settings.get("data_dir"), shape)
    given = {key: value for key, value in settings.items() if value is not None}
    values = {**protocol.settings, **given}
    if entry.name in MOBILENET_SPACES and "lr" not in given:
        values["lr"] = MOBILENET_LR_PER_256 * values.get("batch_size", _default("batch_size")) / 256
    auxiliary_weight = values.get("auxiliary_weight", _default("auxiliary_weight"))
    declared = entry.cls.network_options
    network = {key: value for key, value in protocol.network.items() if key in declared}
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
    return read_saved_config(out_dir, TrainConfig)[0]
