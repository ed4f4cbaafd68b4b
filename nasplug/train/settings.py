"""The settings of a training, declared once: ``nasplug.api.train``'s keywords and ``nasplug train``'s flags.

A setting left unset takes the evaluation protocol's value (the dataset's and space's, see
:func:`nasplug.train.config.training_config`), else the default here, which is TrainConfig's where
TrainConfig has one. ``layers``, ``channels`` and ``drop_path`` are options of the genotype's network.
"""

from __future__ import annotations

from pathlib import Path

import click

from nasplug.runs.settings import Setting, device_settings, field_default
from nasplug.train.config import TrainConfig


def _default(field: str) -> object:
    return field_default(TrainConfig, field)


TRAIN_SETTINGS: tuple[Setting, ...] = (
    Setting("dataset", str, "Picks data and recipe: digits, cifar10, cifar100, imagenet, folder (with --data-dir) "
            "or a plugin's. Default: a run folder's own dataset (with its --data-dir and --input-size), "
            "else cifar10.", "cifar10"),
    Setting("data_dir", str | Path, "Where the dataset files are (or go).",
            flag={"type": click.Path(file_okay=False)}),
    Setting("input_size", int, "Override the dataset's input size.", flag={"type": click.IntRange(min=1)}),
    Setting("epochs", int, "Recipe: 600 CIFAR, 250 ImageNet, 30 digits.",
            flag={"type": click.IntRange(min=1)}),
    Setting("batch_size", int, "Recipe: 96 CIFAR, 128 ImageNet, 64 digits.",
            flag={"type": click.IntRange(min=1)}),
    Setting("layers", int, "Cells of the network (cell spaces).", field=None,
            flag={"type": click.IntRange(min=1)}),
    Setting("channels", int, "Initial channels (cell spaces).", field=None,
            flag={"type": click.IntRange(min=1)}),
    Setting("seed", int, "Seeds weights, data and augmentation.", _default("seed"), flag={"type": int}),
    Setting("lr", float, "Initial learning rate.", flag={"type": click.FloatRange(min=0, min_open=True)}),
    Setting("weight_decay", float, "SGD weight decay. Recipe: 3e-4 CIFAR and digits, 3e-5 ImageNet; 4e-5 proxyless-mbv2.",
            flag={"type": click.FloatRange(min=0)}),
    Setting("label_smoothing", float, "Label smoothing of the loss. Recipe: 0 CIFAR and digits, 0.1 ImageNet and proxyless-mbv2.",
            flag={"type": click.FloatRange(0, 1, max_open=True)}),
    Setting("cutout", int, "Side of the cutout square in pixels; 0 = off.",
            flag={"type": click.IntRange(min=0)}),
    Setting("drop_path", float, "Final drop-path probability, ramped from 0 (cell spaces).", field=None,
            flag={"type": click.FloatRange(0, 1, max_open=True)}),
    Setting("auxiliary_weight", float, "Weight of the auxiliary head's loss; 0 builds no head.",
            flag={"type": click.FloatRange(min=0)}),
    *device_settings(TrainConfig),
    Setting("keep_checkpoints", int, "Epoch checkpoints to keep (0 keeps all).", _default("keep_checkpoints"),
            flag={"type": click.IntRange(min=0)}),
)
"""``nasplug train``'s settings in ``--help`` order; :func:`nasplug.api.train` takes each by its name."""
