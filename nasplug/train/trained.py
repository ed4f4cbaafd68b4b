"""The network a ``nasplug train`` folder holds: its genotype, built, with the latest trained weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from nasplug.networks.build import BuiltNetwork, genotype_network
from nasplug.networks.export_metadata import read_run_preprocessing
from nasplug.networks.weights import WEIGHTS_FILE, load_weights_into, read_weights
from nasplug.plugin import Hooks
from nasplug.runs.checkpoint import checkpoint_paths, load_checkpoint
from nasplug.runs.files import read_json_file
from nasplug.runs.run_config import CONFIG_FILE
from nasplug.train.config import TrainError, read_config


def is_training_dir(path: Path) -> bool:
    """A ``nasplug train`` output: a folder whose config.json is a training configuration."""
    config = path / CONFIG_FILE
    if not (path.is_dir() and config.is_file()):
        return False
    try:
        data = read_json_file(config, TrainError, "nasplug training configuration")
    except TrainError:
        return False
    return isinstance(data, dict) and "network_options" in data and "genotype" in data


def trained_network(out_dir: Path, hooks: Hooks) -> BuiltNetwork:
    """The network of training directory ``out_dir`` with its latest weights.

    The weights are the latest checkpoint's, verified against its SHA-256 header before use (the same
    epoch's weights as ``model.safetensors``, which carries no checksum); ``model.safetensors`` only where
    the folder holds no checkpoint.
    """
    config = read_config(out_dir)
    entry = hooks.space_entry(config.space)
    genotype = entry.cls.parse_genotype(config.genotype, f"the genotype of {out_dir / CONFIG_FILE}")
    data = hooks.dataset_shape(config.dataset, config.data_dir)
    if config.input_size is not None:
        data = attrs.evolve(data, input_size=config.input_size)
    module = genotype_network(entry, genotype, data, config.network_options)
    if checkpoint_paths(out_dir):
        state = load_checkpoint(checkpoint_paths(out_dir)[-1])["model"]
    elif (out_dir / WEIGHTS_FILE).is_file():
        state = read_weights(out_dir / WEIGHTS_FILE)
    else:
        raise TrainError(f"{out_dir}: no trained weights yet (no {WEIGHTS_FILE}, no checkpoint)")
    load_weights_into(module, state, str(out_dir))
    return BuiltNetwork(module, entry, genotype, config.dataset, data, dict(config.network_options), trained=True,
                        preprocessing=read_run_preprocessing(out_dir))


def network_for(reference: str, *, hooks: Hooks, **build: Any) -> BuiltNetwork:
    """Training directory ``reference``'s trained network; ``build`` (network flags given for it, as
    :func:`~nasplug.networks.build.build_network` takes them) are refused: its network is fixed."""
    given = [name for name, value in build.items() if value not in (None, {})]
    if given:
        raise TrainError(f"{reference} is a training directory: its network is fixed; drop "
                         f"{', '.join('--' + name.replace('_', '-') for name in given)}")
    return trained_network(Path(reference), hooks)
