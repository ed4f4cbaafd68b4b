"""The settings of a search, declared once: ``nasplug.api.search``'s keywords and ``nasplug run``'s flags.

A default that is a SearchConfig default is read from SearchConfig; the dataset-dependent ones come
from :mod:`nasplug.search.defaults`. The space, controller, recipe, output folder and ``-o`` options
are the API's own arguments, not settings.
"""

from __future__ import annotations

from pathlib import Path

import click

from nasplug.runs.settings import Setting, device_settings, field_default
from nasplug.data import NORMALISATIONS
from nasplug.data.device import DEVICE_DATA_CHOICES
from nasplug.search.config import SearchConfig
from nasplug.search.defaults import DATASET_DEFAULTS, DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS
from nasplug.spaces.darts_cell import DartsCellSpace


def _default(field: str) -> object:
    return field_default(SearchConfig, field)


_DIGITS = DATASET_DEFAULTS["digits"]
_CELLS = DartsCellSpace.options

SEARCH_SETTINGS: tuple[Setting, ...] = (
    Setting("dataset", str, "digits, cifar10, cifar100, imagenet, folder (with --data-dir ROOT) or a "
            "plugin's.", _default("dataset")),
    Setting("data_dir", str | Path, "Where the dataset files are (or go).",
            flag={"type": click.Path(file_okay=False)}),
    Setting("epochs", int, f"Default: {DEFAULT_EPOCHS} (DARTS); {_DIGITS['epochs']} on digits.",
            flag={"type": click.IntRange(min=1)}),
    Setting("batch_size", int, f"Default: {DEFAULT_BATCH_SIZE} (DARTS); {_DIGITS['batch_size']} on digits.",
            flag={"type": click.IntRange(min=1)}),
    Setting("layers", int, f"Cells in the supernet (cell spaces). Default: the space's "
            f"({_CELLS['layers'].default}); {_DIGITS['layers']} on digits.",
            field=None, flag={"type": click.IntRange(min=1)}),
    Setting("channels", int, f"Initial channels of the supernet. Default: the space's "
            f"({_CELLS['channels'].default}); {_DIGITS['channels']} on digits.",
            field=None, flag={"type": click.IntRange(min=1)}),
    Setting("seed", int, "One seed for data, weights and controller.", _default("seed"), flag={"type": int}),
    Setting("lr", float, "Weight learning rate (cosine schedule).", _default("lr"), flag={"type": float}),
    Setting("lr_min", float, "Floor of the cosine schedule (MdeNAS: 0).", _default("lr_min"),
            flag={"type": click.FloatRange(min=0)}),
    Setting("search_split", int | float | str, "The search (validation) split: N training images, or a "
            f"fraction F in (0, 1). Default: {1 - _default('train_fraction'):g}.",  # type: ignore[operator]
            field=None, flag={"metavar": "N|F"}),
    Setting("input_size", int, "Resize the images to this side for the search (a cheaper proxy); "
            "default: the dataset's own.", flag={"type": click.IntRange(min=1)}),
    Setting("normalisation", str, "dataset: per-channel mean/std; symmetric: pixels to [-1, 1].",
            _default("normalisation"), flag={"type": click.Choice(NORMALISATIONS)}),
    Setting("cutout", int, "Cutout square side in pixels for both splits; 0 = off.", _default("cutout"),
            flag={"type": click.IntRange(min=0)}),
    *device_settings(SearchConfig),
    Setting("data_on_device", str, "Hold both splits on the device and augment there (digits, CIFAR); "
            "auto: on CUDA where they fit.", _default("data_on_device"),
            flag={"type": click.Choice(DEVICE_DATA_CHOICES)}),
    Setting("keep_checkpoints", int, "Epoch checkpoints to keep (0 keeps all).", _default("keep_checkpoints"),
            flag={"type": click.IntRange(min=0)}),
    Setting("eval_derived", bool, "Evaluate the derived architecture on the search split after every epoch.",
            _default("eval_derived")),
    Setting("target", str, "Search under a cost target, units required: latency=5ms, params=3M, madds=600M "
            "(docs/hardware-aware-search.md). Needs --cost-model."),
    Setting("cost_model", str, "What prices a sample for --target: params, madds, proxyless-lut:FILE, "
            "nb201-latency-DEVICE or a plugin's (`nasplug plugins`)."),
    Setting("target_rule", str, "MnasNet's reward acc·(cost/target)^w: soft (w = -0.07) or hard (w = 0 under "
            "the target, -1 over it).", _default("target_rule"), flag={"type": click.Choice(("soft", "hard"))}),
    Setting("init_from", str | Path, "Start the controller from the distribution an earlier run learnt.",
            flag={"type": click.Path(exists=True, file_okay=False)}),
)
"""``nasplug run``'s settings in ``--help`` order; :func:`nasplug.api.search` takes each by its name."""
