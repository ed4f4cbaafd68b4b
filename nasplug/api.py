"""The Python API: one function per command, with the command line's defaults and checks.

``nasplug run`` is :func:`search` (and :func:`resume_search` for ``--resume``), ``nasplug train`` is
:func:`train` (and :func:`resume_training`), ``nasplug show`` is :func:`show` and ``nasplug info``
is :func:`info`. Beyond the command line, :func:`search` takes a controller class or instance (as
Optuna takes a sampler object) and a user's own ``torch.utils.data.Dataset``. docs/python-api.md is
the guide.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasplug.core.controller import Controller
from nasplug.search.controller_choice import ControllerLike, controller_class, controller_name
from nasplug.core.errors import NasplugError
from nasplug.core.options import OptionError, resolve_options
from nasplug.plugin.manager import Hooks, controller_entry, load_plugins
from nasplug.runs.progress import Progress
from nasplug.recipes import Recipe, check_options, check_settings, field_types, recipe_for
from nasplug.runs.folder import default_run_dir, fresh_output_dir
from nasplug.search.defaults import search_recipe

if TYPE_CHECKING:
    from torch.utils.data import Dataset

    from nasplug.data import DataBundle
    from nasplug.networks.cost import ModelCost
    from nasplug.search.engine import SearchConfig, SearchResult
    from nasplug.train.trainer import TrainConfig, TrainResult

__all__ = ["info", "resume_search", "resume_training", "search", "search_config", "show", "train", "train_config"]

NETWORK_SETTINGS = ("layers", "channels", "drop_path")
"""Keywords of :func:`train` that are network options (``--layers``, ``--channels``, ``--drop-path``)."""

_API_DIRS = {"out": "out=", "resume": "nasplug.api.resume_search('{path}')"}


def search(
    space: str | None = None,
    controller: ControllerLike | None = None,
    *,
    recipe: str | Path | Recipe | None = None,
    dataset: str | None = None,
    data: DataBundle | Dataset | None = None,
    data_dir: str | Path | None = None,
    out: str | Path | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    layers: int | None = None,
    channels: int | None = None,
    seed: int | None = None,
    lr: float | None = None,
    lr_min: float | None = None,
    search_split: int | float | None = None,
    normalisation: str | None = None,
    cutout: int | None = None,
    device: str | None = None,
    amp: bool | None = None,
    channels_last: bool | None = None,
    workers: int | None = None,
    data_on_device: str | None = None,
    keep_checkpoints: int | None = None,
    eval_derived: bool | None = None,
    init_from: str | Path | None = None,
    options: Mapping[str, Any] | None = None,
    progress: bool | Progress = True,
    threads: int | None = None,
) -> SearchResult:
    """Search ``space`` with ``controller``, as ``nasplug run`` does; returns genotype, history, run folder.

    ``controller`` is an installed controller's name, a :class:`~nasplug.Controller` subclass or an
    instance of one (built for the space it is to search). ``recipe`` (a name from ``nasplug
    recipes`` or a TOML file) supplies every setting, space and controller included; arguments
    left at None take the recipe's value, else the command line's default (digits: 60 epochs,
    batch 32, 3 cells of 32 channels; elsewhere DARTS's 50 epochs, batch 64; seed 0, lr 0.025 → 0.001).
    ``data``, a ``torch.utils.data.Dataset`` of ``(C×H×W tensor, label)`` items or a DataBundle,
    is searched on instead of ``dataset``. ``out`` must be absent or empty (default: a new folder
    under ``runs/``). ``options`` are the ``-o`` options (``space.KEY`` or ``controller.KEY`` where
    both have KEY). ``progress``: True for a progress display, False for none, or a
    :class:`~nasplug.runs.progress.Progress`. ``threads``: torch's CPU threads (``--threads``; default 1).
    ``amp`` (bf16 autocast) and ``channels_last``: None means on for CUDA, off elsewhere.
    """
    from nasplug.data.user import as_bundle
    from nasplug.search.engine import run_search

    hooks = load_plugins()
    bundle = as_bundle(data) if data is not None else None
    config = search_config(
        space, controller, recipe=recipe, dataset=bundle.name if bundle is not None else dataset,
        layers=layers, channels=channels, search_split=search_split, workers=workers, options=options,
        hooks=hooks, given_data=bundle is not None, data_dir=data_dir, epochs=epochs, batch_size=batch_size,
        seed=seed, lr=lr, lr_min=lr_min, normalisation=normalisation, cutout=cutout, device=device,
        amp=amp, channels_last=channels_last, data_on_device=data_on_device, keep_checkpoints=keep_checkpoints,
        eval_derived=eval_derived, init_from=init_from,
    )
    run_dir = fresh_output_dir(Path(out) if out is not None else default_run_dir(config.space, config.controller),
                               **_API_DIRS)
    shown = _progress(progress)
    shown.message(f"searching {config.space} with {config.controller} on {config.dataset}; writing {run_dir}")
    instance = None if controller is None or isinstance(controller, str) else controller
    return run_search(config, run_dir, progress=shown, hooks=hooks, data=bundle, controller=instance,
                      threads=threads)


def resume_search(
    run_dir: str | Path,
    *,
    data: DataBundle | Dataset | None = None,
    controller: type[Controller] | Controller | None = None,
    progress: bool | Progress = True,
    threads: int | None = None,
) -> SearchResult:
    """Continue the search in ``run_dir`` from its latest checkpoint, as ``nasplug run --resume`` does.

    A run stopped before its first checkpoint starts again at epoch 0. Pass the same ``data`` and
    ``controller`` class or instance the search started with, if it started with them (the run's
    ``config.json`` names, but cannot hold, them). ``threads`` defaults to the run's own count.
    """
    from nasplug.data.user import as_bundle
    from nasplug.search.engine import read_config, run_search

    run_dir = Path(run_dir)
    config = read_config(run_dir)
    if controller is not None and controller_name(controller) != config.controller:
        raise NasplugError(f"{run_dir} was searched with controller {config.controller!r}, "
                           f"not {controller_name(controller)!r}")
    shown = _progress(progress)
    shown.message(f"resuming {run_dir}")
    bundle = as_bundle(data) if data is not None else None
    return run_search(config, run_dir, resume_from=run_dir, progress=shown, data=bundle,
                      controller=controller, threads=threads)


SEARCH_SETTINGS = ("data_dir", "epochs", "batch_size", "seed", "lr", "lr_min", "normalisation", "cutout",
                   "device", "amp", "channels_last", "data_on_device", "keep_checkpoints", "eval_derived",
                   "init_from")
"""Keywords of :func:`search_config` that are SearchConfig fields of the same name."""


def search_config(
    space: str | None = None,
    controller: ControllerLike | None = None,
    *,
    recipe: str | Path | Recipe | None = None,
    dataset: str | None = None,
    layers: int | None = None,
    channels: int | None = None,
    search_split: int | float | str | None = None,
    workers: int | None = None,
    options: Mapping[str, Any] | None = None,
    hooks: Hooks | None = None,
    given_data: bool = False,
    **settings: Any,
) -> SearchConfig:
    """The SearchConfig of a search: a recipe's values, then the arguments given, then the defaults.

    ``recipe`` is a recipe name, file or :class:`~nasplug.recipes.Recipe` (``nasplug recipes``);
    every other argument left at None takes the recipe's value, else the dataset's default
    (:mod:`nasplug.search.defaults`), else SearchConfig's. ``settings`` are the SearchConfig
    fields in :data:`SEARCH_SETTINGS` (``epochs``, ``lr``, ``lr_min``, ...). ``search_split`` is a
    count of images or a fraction of the training set. Every name and option is checked here,
    before any data is loaded; ``given_data`` says the dataset is the caller's own (its name need
    not be installed).
    """
    from nasplug.search.engine import SearchConfig

    unknown = sorted(set(settings) - set(SEARCH_SETTINGS))
    if unknown:
        raise NasplugError(f"unknown search setting(s) {', '.join(unknown)}; accepted: "
                           f"{', '.join(SEARCH_SETTINGS)}")
    hooks = hooks or load_plugins()
    if recipe is not None and not isinstance(recipe, Recipe):
        recipe = recipe_for(str(recipe), "run")
    values: dict[str, Any] = {}
    if recipe is not None:
        values = check_settings(recipe, field_types(SearchConfig, ("space_options", "controller_options")))
    space = space or values.get("space")
    controller = controller or values.get("controller")
    if not space or not controller:
        raise NasplugError("--space and --controller are required (space=, controller=), or --recipe NAME that "
                           "names them, or --resume RUN_DIR")
    space_cls = hooks.space_entry(space).cls
    dataset = dataset or values.get("dataset", "digits")
    if not given_data:
        dataset = hooks.dataset_entry(dataset).name
    name = controller_name(controller)
    cls = controller_entry(name).load() if isinstance(controller, str) else controller_class(controller)
    space_options: dict[str, Any] = {}
    controller_options: dict[str, Any] = {}
    if recipe is not None:
        space_options = check_options(recipe, "space", space_cls.options, f"space {space!r}")
        controller_options = check_options(recipe, "controller", cls.options, f"controller {name!r}")
    to_controller, to_space = route_options(options or {}, cls.options, space_cls.options)
    controller_options.update(to_controller)
    space_options.update(to_space)
    defaults = search_recipe(dataset)
    for key, value in (("layers", layers), ("channels", channels)):
        if value is not None:
            if key not in space_cls.options:
                raise OptionError(f"space {space!r} has no {key}; its options: "
                                  f"{', '.join(sorted(space_cls.options)) or 'none'}")
            space_options[key] = str(value)
        elif key in defaults and key in space_cls.options and key not in space_options:
            space_options[key] = str(defaults[key])
    if isinstance(controller, Controller):
        if options or layers is not None or channels is not None:
            raise OptionError("a controller instance brings its own options and space; pass its class "
                              "to set options, layers or channels")
        controller_options, space_options = dict(controller.config), dict(controller.space.config)
    resolve_options(cls.options, controller_options, f"controller {name!r}")  # fail before loading data
    resolve_options(space_cls.options, space_options, f"space {space!r}")
    values.update({key: value for key, value in settings.items() if value is not None})
    if workers is not None:
        values["num_workers"] = workers
    if search_split is not None:
        values.update(parse_search_split(search_split))
    for key in ("epochs", "batch_size"):
        values.setdefault(key, defaults[key])
    for key in ("data_dir", "init_from"):
        if values.get(key) is not None:
            values[key] = str(values[key])
    values.update(space=space, controller=name, dataset=dataset)
    return SearchConfig(**values, space_options=space_options, controller_options=controller_options)


def parse_search_split(value: int | float | str) -> dict[str, Any]:
    """The search (validation) split: a count of images (``5000``) or a fraction of the training set (``0.5``)."""
    text = str(value)
    try:
        count = int(text)
    except ValueError:
        try:
            fraction = float(text)
        except ValueError:
            raise NasplugError(f"the search split takes a number of images or a fraction, got {text!r}") from None
        if not 0 < fraction < 1:
            raise NasplugError(f"the search split as a fraction must lie strictly between 0 and 1, got {text}")
        return {"search_images": None, "train_fraction": 1 - fraction}
    if count < 1:
        raise NasplugError(f"the search split as a number of images must be at least 1, got {count}")
    return {"search_images": count}


def route_options(
    pairs: Mapping[str, Any], controller_options: Mapping[str, Any], space_options: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``-o`` assignments into (controller, space) options by their declared keys."""
    to_controller: dict[str, Any] = {}
    to_space: dict[str, Any] = {}
    for key, value in pairs.items():
        owner, _, bare = key.rpartition(".")
        if owner == "controller" or (not owner and bare in controller_options and bare not in space_options):
            to_controller[bare] = value
        elif owner == "space" or (not owner and bare in space_options and bare not in controller_options):
            to_space[bare] = value
        elif not owner and bare in controller_options:
            raise OptionError(f"option {bare!r} exists for both controller and space; write "
                              f"controller.{bare} or space.{bare}")
        else:
            accepted = sorted(controller_options) + [f"space.{k}" for k in sorted(space_options)]
            raise OptionError(f"unknown option {key!r}; accepted: {', '.join(accepted) or 'none'}")
    return to_controller, to_space


def train(
    genotype: str | Path | None = None,
    *,
    recipe: str | Path | Recipe | None = None,
    dataset: str | None = None,
    space: str | None = None,
    out: str | Path | None = None,
    options: Mapping[str, Any] | None = None,
    progress: bool | Progress = True,
    threads: int | None = None,
    **settings: Any,
) -> TrainResult:
    """Train a genotype's network from scratch with its paper's protocol, as ``nasplug train`` does.

    ``genotype`` is a genotype file, run or training folder, or a published name; ``recipe`` an
    evaluation recipe (``nasplug recipes``), which may name the genotype. ``settings`` are the
    command's options by their Python names (``epochs``, ``batch_size``, ``layers``, ``channels``,
    ``drop_path``, ``lr``, ``cutout``, ``device``, ``workers``, ...); None or absent means the
    recipe's value. ``options`` are the network's ``-o`` options; ``threads`` torch's CPU threads.
    """
    from nasplug.train.trainer import train_network

    hooks = load_plugins()
    config = train_config(genotype, recipe=recipe, dataset=dataset, space=space, options=options, hooks=hooks,
                          **settings)
    out_dir = Path(out) if out is not None else default_run_dir(config.space, "train")
    shown = _progress(progress)
    shown.message(f"training {genotype or config.space} ({config.space}) on {config.dataset} for "
                  f"{config.epochs} epochs; writing {out_dir}")
    return train_network(config, out_dir, progress=shown, hooks=hooks, threads=threads)


def train_config(
    genotype: str | Path | None = None,
    *,
    recipe: str | Path | Recipe | None = None,
    dataset: str | None = None,
    space: str | None = None,
    options: Mapping[str, Any] | None = None,
    hooks: Hooks | None = None,
    **settings: Any,
) -> TrainConfig:
    """The TrainConfig of :func:`train`: the evaluation recipe (the dataset's by default, or
    ``recipe``), then the arguments given; checked before any data is loaded."""
    from nasplug.networks.genotypes import load_genotype
    from nasplug.train.trainer import TrainConfig, training_config

    hooks = hooks or load_plugins()
    values: dict[str, Any] = {}
    network: dict[str, Any] = {}
    if recipe is not None:
        if not isinstance(recipe, Recipe):
            recipe = recipe_for(str(recipe), "train")
        types = field_types(TrainConfig, ("genotype", "network_options", "genotype_source"))
        values = check_settings(recipe, {**types, "genotype": str})
    named = values.pop("genotype", None)
    genotype = genotype or named
    if not genotype:
        if recipe is not None:
            raise NasplugError(f"{recipe.source} names no genotype; give --genotype (genotype=)")
        raise NasplugError("a genotype is required (--genotype, or a recipe that names one)")
    space = space or values.pop("space", None)
    dataset = dataset or values.pop("dataset", "cifar10")
    values.pop("space", None)
    if recipe is not None:
        entry, _ = load_genotype(str(genotype), hooks, space)
        network = check_options(recipe, "network", entry.cls.network_options, f"the {entry.name} network")
    network.update(options or {})
    for key in NETWORK_SETTINGS:
        if settings.get(key) is not None:
            network[key] = settings[key]
    settings = {key: value for key, value in settings.items() if key not in NETWORK_SETTINGS}
    if "workers" in settings:
        settings["num_workers"] = settings.pop("workers")
    values.update({key: value for key, value in settings.items() if value is not None})
    return training_config(str(genotype), dataset=dataset, space=space, network_options=network, hooks=hooks,
                           **values)


def resume_training(out: str | Path, *, progress: bool | Progress = True, threads: int | None = None) -> TrainResult:
    """Continue the training in ``out`` from its latest checkpoint, as ``nasplug train --resume`` does."""
    from nasplug.train.trainer import train_network

    return train_network(None, Path(out), resume=True, progress=_progress(progress), threads=threads)


def show(genotype: str | Path, *, space: str | None = None) -> str:
    """A genotype rendered readably, as ``nasplug show`` prints it."""
    from nasplug.networks.genotypes import load_genotype

    entry, loaded = load_genotype(str(genotype), load_plugins(), space)
    return entry.cls.describe(loaded)


def info(
    genotype: str | Path,
    *,
    space: str | None = None,
    dataset: str | None = None,
    data_dir: str | Path | None = None,
    input_size: int | None = None,
    options: Mapping[str, Any] | None = None,
) -> ModelCost:
    """Parameters and multiply-adds of a genotype's standalone network, as ``nasplug info`` reports them.

    ``options`` are the network's options (``layers``, ``channels``, ...); ``data_dir`` is
    needed where the dataset's shape comes from its files (``folder``).
    """
    from nasplug.networks.cost import model_cost
    from nasplug.networks.build import build_network

    built = build_network(str(genotype), dataset=dataset, data_dir=data_dir, input_size=input_size, space=space,
                          options=dict(options or {}))
    return model_cost(built.module, built.data)


def _progress(progress: bool | Progress) -> Progress:
    return progress if isinstance(progress, Progress) else Progress(enabled=bool(progress))
