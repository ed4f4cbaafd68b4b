"""The Python API: one function per command, with the command line's defaults and checks.

``nasplug run`` is :func:`search` (and :func:`resume_search` for ``--resume``), ``nasplug train`` is
:func:`train` (and :func:`resume_training`), ``nasplug show`` is :func:`show` and ``nasplug info``
is :func:`info`; the command line parses its flags and calls these. :func:`search` and :func:`train`
take the same shape of arguments: what to run, then keywords (``recipe``, ``out``, ``options``,
``progress``, ``threads``, ``hooks``, ``loggers``) and the command's settings, declared once in
:data:`nasplug.search.settings.SEARCH_SETTINGS` and :data:`nasplug.train.settings.TRAIN_SETTINGS`.
Beyond the command line, :func:`search` takes a controller class or instance (as Optuna takes a
sampler object) and a user's own ``torch.utils.data.Dataset``. docs/python-api.md is the guide.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

import attrs

from nasplug.core.controller import Controller
from nasplug.core.errors import NasplugError
from nasplug.core.options import OptionError, resolve_options
from nasplug.runs.settings import Setting
from nasplug.plugin import Hooks, load_plugins
from nasplug.recipes import Recipe, check_options, check_settings, field_types, matches_type, recipe_for
from nasplug.runs.folder import default_run_dir, fresh_output_dir
from nasplug.runs.progress import Progress
from nasplug.search.controller_choice import ControllerLike, controller_class, controller_name
from nasplug.search.defaults import search_defaults
from nasplug.search.settings import SEARCH_SETTINGS
from nasplug.train.settings import TRAIN_SETTINGS

if TYPE_CHECKING:
    from torch.utils.data import Dataset

    from nasplug.data import DataBundle
    from nasplug.networks.build import BuiltNetwork
    from nasplug.networks.cost import ModelCost
    from nasplug.networks.latency import LatencyReport
    from nasplug.networks.lookup_table import LatencyTable
    from nasplug.search import SearchConfig, SearchResult
    from nasplug.search.distributed import World
    from nasplug.train import TrainConfig, TrainResult

__all__ = [
    "PYTHON_SPELLING",
    "RunInterrupted",
    "Spelling",
    "info",
    "info_network",
    "exportable_network",
    "latency",
    "latency_table",
    "resume_search",
    "resume_training",
    "search",
    "search_config",
    "show",
    "train",
    "train_config",
]


@attrs.frozen
class Spelling:
    """How a caller names another output folder and the resume, in the one line refusing a used folder."""

    out: str
    resume: str


PYTHON_SPELLING = Spelling(out="out=", resume="nasplug.api.resume_search('{path}')")


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a search or training, with the folder the run was writing and its progress display.

    Still a KeyboardInterrupt (a script or notebook stops as before); ``nasplug run``/``train``
    catch it to print the command that continues the run.
    """

    def __init__(self, folder: Path, progress: Progress) -> None:
        super().__init__(f"interrupted while writing {folder}")
        self.folder = folder
        self.progress = progress


def search(
    space: str | None = None,
    controller: ControllerLike | None = None,
    *,
    recipe: str | Path | Recipe | None = None,
    data: DataBundle | Dataset | None = None,
    out: str | Path | None = None,
    options: Mapping[str, Any] | None = None,
    progress: bool | Progress = True,
    threads: int | None = None,
    hooks: Hooks | None = None,
    loggers: str | Sequence[str] = (),
    world: World | None = None,
    spelling: Spelling = PYTHON_SPELLING,
    **settings: Any,
) -> SearchResult:
    """Search ``space`` with ``controller``, as ``nasplug run`` does; returns genotype, history, run folder.

    ``controller`` is an installed controller's name, a :class:`~nasplug.Controller` subclass or an
    instance of one (built for the space it is to search). ``recipe`` (a name from ``nasplug
    recipes`` or a TOML file) supplies every setting, space and controller included. ``settings``
    are ``nasplug run``'s, by their Python names (:data:`~nasplug.search.settings.SEARCH_SETTINGS`:
    ``dataset``, ``epochs``, ``batch_size``, ``layers``, ``lr``, ``search_split``, ...); one left
    out or None takes the recipe's value, else its default there. ``data``, a
    ``torch.utils.data.Dataset`` of ``(C×H×W tensor, label)`` items or a DataBundle, is searched
    on instead of ``dataset``. ``out`` must be absent or empty (default: a new folder under
    ``runs/``); ``spelling`` names the ways out in the line refusing a used one. ``options`` are
    the ``-o`` options (``space.KEY`` or ``controller.KEY`` where both have KEY). ``progress``:
    True for a progress display, False for none, or a :class:`~nasplug.runs.progress.Progress`.
    ``threads``: torch's CPU threads (``--threads``; default 1). ``hooks``: the plugin manager the
    run uses for every lookup (default: the installed plugins); ``loggers``: names of loggers to
    add to it (``--logger``). ``world``: this process's place in a process group the caller
    created; None joins torchrun's group when launched by it (rank 0 alone picks the folder and
    shows progress). Ctrl-C raises :class:`RunInterrupted`.
    """
    from nasplug.data.user import as_bundle
    from nasplug.search import run_search
    from nasplug.search.distributed import from_main

    _check_settings(search, settings, SEARCH_SETTINGS)
    with _run_plugins(hooks, loggers) as hooks:
        bundle = as_bundle(data) if data is not None else None
        if bundle is not None:
            settings = {**settings, "dataset": bundle.name}
        config = search_config(space, controller, recipe=recipe, options=options, hooks=hooks,
                               given_data=bundle is not None, **settings)
        instance = None if controller is None or isinstance(controller, str) else controller
        with _joined(world, config.device) as world:
            shown = _progress(progress, world.is_main)
            run_dir = from_main(world, lambda: fresh_output_dir(
                Path(out) if out is not None else default_run_dir(config.space, config.controller),
                out=spelling.out, resume=spelling.resume))
            shown.message(f"searching {config.space} with {config.controller} on {config.dataset}; "
                          f"writing {run_dir}")
            with _interruptible(run_dir, shown):
                return run_search(config, run_dir, progress=shown, hooks=hooks, world=world, data=bundle,
                                  controller=instance, threads=threads)


def resume_search(
    run_dir: str | Path,
    *,
    data: DataBundle | Dataset | None = None,
    controller: type[Controller] | Controller | None = None,
    progress: bool | Progress = True,
    threads: int | None = None,
    hooks: Hooks | None = None,
    loggers: str | Sequence[str] = (),
    world: World | None = None,
) -> SearchResult:
    """Continue the search in ``run_dir`` from its latest checkpoint, as ``nasplug run --resume`` does.

    ``run_dir`` is the run's folder or a checkpoint file in its ``checkpoints/``. A run stopped
    before its first checkpoint starts again at epoch 0. Pass the same ``data`` and ``controller``
    class or instance the search started with, if it started with them (the run's ``config.json``
    names, but cannot hold, them). ``threads`` defaults to the run's own count; ``progress``,
    ``hooks``, ``loggers`` and ``world`` are :func:`search`'s.
    """
    from nasplug.data.user import as_bundle
    from nasplug.search import read_config, resume_target, run_search

    target = Path(run_dir)
    folder = resume_target(target)
    config = read_config(folder)
    with _run_plugins(hooks, loggers) as hooks:
        if controller is not None and controller_name(controller, hooks) != config.controller:
            raise NasplugError(f"{folder} was searched with controller {config.controller!r}, "
                               f"not {controller_name(controller, hooks)!r}")
        bundle = as_bundle(data) if data is not None else None
        with _joined(world, config.device) as world:
            shown = _progress(progress, world.is_main)
            shown.message(f"resuming {target}")
            with _interruptible(folder, shown):
                return run_search(config, folder, resume_from=target, progress=shown, hooks=hooks, world=world,
                                  data=bundle, controller=controller, threads=threads)


def search_config(
    space: str | None = None,
    controller: ControllerLike | None = None,
    *,
    recipe: str | Path | Recipe | None = None,
    options: Mapping[str, Any] | None = None,
    hooks: Hooks | None = None,
    given_data: bool = False,
    **settings: Any,
) -> SearchConfig:
    """The SearchConfig of :func:`search`: a recipe's values, then the settings given, then the defaults.

    Takes :func:`search`'s arguments. A setting left out or None takes the recipe's value, else the
    dataset's default (:mod:`nasplug.search.defaults`), else its declared one. ``search_split`` is a
    count of images or a fraction of the training set. Every name and option is checked here,
    before any data is loaded; ``given_data`` says the dataset is the caller's own (its name need
    not be installed).
    """
    from nasplug.search import SearchConfig

    _check_settings(search_config, settings, SEARCH_SETTINGS)
    hooks = _plugins(hooks)
    if recipe is not None and not isinstance(recipe, Recipe):
        recipe = recipe_for(str(recipe), "run", hooks)
    values: dict[str, Any] = {}
    if recipe is not None:
        values = check_settings(recipe, field_types(SearchConfig, ("space_options", "controller_options")),
                                SearchConfig.BOUNDS)
    space = space or values.get("space")
    controller = controller or values.get("controller")
    if not space or not controller:
        raise NasplugError("--space and --controller are required (space=, controller=), or --recipe NAME that "
                           "names them, or --resume RUN_DIR")
    space_cls = hooks.space_entry(space).cls
    dataset = settings.get("dataset") or values.get("dataset", _declared(SEARCH_SETTINGS)["dataset"].default)
    if not given_data:
        dataset = hooks.dataset_entry(dataset).name
    name = controller_name(controller, hooks)
    cls = hooks.controller_entry(name).load() if isinstance(controller, str) else controller_class(controller)
    space_options: dict[str, Any] = {}
    controller_options: dict[str, Any] = {}
    if recipe is not None:
        space_options = check_options(recipe, "space", space_cls.options, f"space {space!r}")
        controller_options = check_options(recipe, "controller", cls.options, f"controller {name!r}")
    to_controller, to_space = route_options(options or {}, cls.options, space_cls.options)
    controller_options.update(to_controller)
    space_options.update(to_space)
    defaults = search_defaults(dataset)
    sized = [key for key in ("layers", "channels") if settings.get(key) is not None]
    for key in ("layers", "channels"):
        if key in sized:
            if key not in space_cls.options:
                raise OptionError(f"space {space!r} has no {key}; its options: "
                                  f"{', '.join(sorted(space_cls.options)) or 'none'}")
            space_options[key] = str(settings[key])
        elif key in defaults and key in space_cls.options and key not in space_options:
            space_options[key] = str(defaults[key])
    if isinstance(controller, Controller):
        if options or sized:
            raise OptionError("a controller instance brings its own options and space; pass its class "
                              "to set options, layers or channels")
        controller_options, space_options = dict(controller.config), dict(controller.space.config)
    resolve_options(cls.options, controller_options, f"controller {name!r}")  # fail before loading data
    resolve_options(space_cls.options, space_options, f"space {space!r}")
    values.update(_config_fields(settings, SEARCH_SETTINGS))
    if settings.get("search_split") is not None:
        values.update(parse_search_split(settings["search_split"]))
    for key in ("epochs", "batch_size"):
        values.setdefault(key, defaults[key])
    values.update(space=space, controller=name, dataset=dataset)
    _absolute_data_dir(values)
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
    space: str | None = None,
    data: DataBundle | Dataset | tuple[Dataset, Dataset] | None = None,
    out: str | Path | None = None,
    options: Mapping[str, Any] | None = None,
    progress: bool | Progress = True,
    threads: int | None = None,
    hooks: Hooks | None = None,
    loggers: str | Sequence[str] = (),
    **settings: Any,
) -> TrainResult:
    """Train a genotype's network from scratch with its paper's protocol, as ``nasplug train`` does.

    ``genotype`` is a genotype file, run or training folder, or a published name (``space`` says
    its space where the reference alone does not); ``recipe`` an evaluation recipe (``nasplug
    recipes``), which may name the genotype. ``settings`` are ``nasplug train``'s, by their Python
    names (:data:`~nasplug.train.settings.TRAIN_SETTINGS`: ``dataset``, ``epochs``, ``batch_size``,
    ``layers``, ``channels``, ``drop_path``, ``lr``, ``workers``, ...); one left out or None takes
    the recipe's value, else the protocol's. ``out``: the output folder (default: a new one under
    ``runs/``); ``options`` the network's ``-o`` options; ``progress``, ``threads``, ``hooks`` and
    ``loggers`` are :func:`search`'s. A run folder's dataset, data folder and input size are the
    defaults (:mod:`nasplug.runs.origin`). ``data``, a user's own data as :func:`search` takes it,
    trains on it instead of ``dataset``: a ``(train, test)`` pair of Datasets or a DataBundle (a
    single Dataset has no test split to report on; the protocol is CIFAR's for images up to 64 px,
    ImageNet's above). Ctrl-C raises :class:`RunInterrupted`.
    """
    from nasplug.data.user import training_bundle
    from nasplug.train import train_network

    _check_settings(train, settings, TRAIN_SETTINGS)
    with _run_plugins(hooks, loggers) as hooks:
        bundle = training_bundle(data) if data is not None else None
        config = train_config(genotype, recipe=recipe, space=space, options=options, hooks=hooks,
                              data=bundle, **settings)
        out_dir = Path(out) if out is not None else default_run_dir(config.space, "train")
        shown = _progress(progress)
        shown.message(f"training {config.genotype_source or config.space} ({config.space}) on {config.dataset} for "
                      f"{config.epochs} epochs; writing {out_dir}")
        if bundle is None:
            _say_taken_from_run(shown, config.genotype_source, settings, config)
        with _interruptible(out_dir, shown):
            return train_network(config, out_dir, progress=shown, hooks=hooks, threads=threads, data=bundle)


def resume_training(
    out: str | Path,
    *,
    data: DataBundle | Dataset | tuple[Dataset, Dataset] | None = None,
    progress: bool | Progress = True,
    threads: int | None = None,
    hooks: Hooks | None = None,
    loggers: str | Sequence[str] = (),
) -> TrainResult:
    """Continue the training in ``out`` from its latest checkpoint, as ``nasplug train --resume`` does.

    ``threads`` defaults to the run's own count; ``data`` (the same data the training started with, if
    it started with a user's own), ``progress``, ``hooks`` and ``loggers`` are :func:`train`'s.
    """
    from nasplug.data.user import training_bundle
    from nasplug.train import train_network

    out_dir = Path(out)
    if not out_dir.is_dir():
        raise NasplugError(f"{out_dir}: no such training directory to resume")
    with _run_plugins(hooks, loggers) as hooks:
        shown = _progress(progress)
        with _interruptible(out_dir, shown):
            return train_network(None, out_dir, resume=True, progress=shown, hooks=hooks, threads=threads,
                                 data=training_bundle(data) if data is not None else None)


def train_config(
    genotype: str | Path | None = None,
    *,
    recipe: str | Path | Recipe | None = None,
    space: str | None = None,
    options: Mapping[str, Any] | None = None,
    hooks: Hooks | None = None,
    data: DataBundle | Dataset | tuple[Dataset, Dataset] | None = None,
    **settings: Any,
) -> TrainConfig:
    """The TrainConfig of :func:`train`: the evaluation protocol (``recipe``, else the space's own training
    recipe where it names one, else the dataset's), then the settings given, then a run folder's data;
    takes :func:`train`'s arguments and is checked before any data is loaded (but ``data``'s)."""
    from nasplug.data import DataBundle
    from nasplug.data.user import training_bundle
    from nasplug.networks.genotypes import load_genotype
    from nasplug.runs.origin import run_origin
    from nasplug.train import TrainConfig, training_config

    _check_settings(train_config, settings, TRAIN_SETTINGS)
    hooks = _plugins(hooks)
    if data is not None and not isinstance(data, DataBundle):
        data = training_bundle(data)  # a (train, test) pair, as train() takes it
    values: dict[str, Any] = {}
    network: dict[str, Any] = {}
    entry = load_genotype(str(genotype), hooks, space)[0] if genotype else None  # loaded once if given
    looked_up_in = space
    if recipe is None and entry is not None:
        recipe = entry.cls.training_recipe  # a space's own protocol, e.g. a tabular benchmark's
    if recipe is not None:
        if not isinstance(recipe, Recipe):
            recipe = recipe_for(str(recipe), "train", hooks)
        types = field_types(TrainConfig, ("genotype", "network_options", "genotype_source"))
        values = check_settings(recipe, {**types, "genotype": str}, TrainConfig.BOUNDS)
    named = values.pop("genotype", None)
    genotype = genotype or named
    if not genotype:
        if recipe is not None:
            raise NasplugError(f"{recipe.source} names no genotype; give --genotype (genotype=)")
        raise NasplugError("a genotype is required (--genotype, or a recipe that names one)")
    named_space = values.pop("space", None)
    space = space or named_space
    values.update(_config_fields(settings, TRAIN_SETTINGS))
    if data is not None:
        values["dataset"] = data.name
    origin = run_origin(genotype)
    if origin is not None:  # a run folder: its data unless told otherwise
        for key, value in origin.data_settings(values.get("dataset")).items():
            values.setdefault(key, value)
    dataset = values.pop("dataset", _declared(TRAIN_SETTINGS)["dataset"].default)
    if recipe is not None:
        if entry is None or space != looked_up_in:  # the recipe named the genotype or its space
            entry = load_genotype(str(genotype), hooks, space)[0]
        network = check_options(recipe, "network", entry.cls.network_options, f"the {entry.name} network")
    network.update(options or {})
    network.update({setting.name: settings[setting.name] for setting in TRAIN_SETTINGS
                    if setting.field is None and settings.get(setting.name) is not None})
    _absolute_data_dir(values)
    return training_config(str(genotype), dataset=dataset, space=space, network_options=network, hooks=hooks,
                           shape=None if data is None else data.shape, **values)


def show(genotype: str | Path, *, space: str | None = None, hooks: Hooks | None = None) -> str:
    """A genotype rendered readably, as ``nasplug show`` prints it before any benchmark lines (those are
    ``SearchSpace.benchmark_results``); ``hooks``: the plugins to ask."""
    from nasplug.networks.genotypes import load_genotype

    entry, loaded = load_genotype(str(genotype), _plugins(hooks), space)
    return entry.cls.describe(loaded)


def info(
    genotype: str | Path,
    *,
    space: str | None = None,
    dataset: str | None = None,
    data_dir: str | Path | None = None,
    input_size: int | None = None,
    options: Mapping[str, Any] | None = None,
    data: DataBundle | Dataset | None = None,
    hooks: Hooks | None = None,
) -> ModelCost:
    """Parameters and multiply-adds of a genotype's standalone network, as ``nasplug info`` reports them.

    The network is the one :func:`train` would build with the same arguments (:func:`info_network`).
    ``options`` are the network's options (``layers``, ``channels``, ...); ``data_dir`` is
    needed where the dataset's shape comes from its files (``folder``); ``data`` is a user's own
    Dataset (or DataBundle) whose shape sizes the network; ``hooks`` as for :func:`show`.
    """
    from nasplug.networks.cost import model_cost

    built = info_network(genotype, space=space, dataset=dataset, data_dir=data_dir, input_size=input_size,
                         options=options, data=data, hooks=hooks)
    return model_cost(built.module, built.data)


def info_network(
    genotype: str | Path,
    *,
    space: str | None = None,
    dataset: str | None = None,
    data_dir: str | Path | None = None,
    input_size: int | None = None,
    options: Mapping[str, Any] | None = None,
    data: DataBundle | Dataset | None = None,
    hooks: Hooks | None = None,
) -> BuiltNetwork:
    """The network :func:`info` sizes: what ``nasplug train`` would build from the same arguments.

    A training folder's network is the one it trained; otherwise the evaluation protocol's network
    options (``nasplug train``'s defaults for the dataset, e.g. 8 cells of 16 channels on digits), then
    ``options``. A run folder's dataset, data folder and input size are the defaults, else the
    space's ``default_dataset``. A dataset without a training protocol (a plugin's) keeps the space's
    own network defaults.
    """
    from nasplug.data.user import as_bundle
    from nasplug.networks.build import build_network
    from nasplug.networks.genotypes import load_genotype
    from nasplug.runs.origin import run_origin
    from nasplug.train.config import has_protocol

    hooks = _plugins(hooks)
    bundle = as_bundle(data) if data is not None else None
    reference = str(genotype)
    origin = run_origin(reference)
    given = {"dataset": dataset, "data_dir": data_dir, "input_size": input_size}
    if origin is not None:
        for key, value in origin.data_settings(dataset).items():
            given[key] = given[key] if given[key] is not None else value
    network = dict(options or {})
    if origin is not None and origin.kind == "training":
        network = {**origin.network_options, **network}
    else:
        entry = load_genotype(reference, hooks, space)[0]
        name = bundle.name if bundle is not None else given["dataset"] or entry.cls.default_dataset
        if has_protocol(name, None if bundle is None else bundle.shape):
            config = train_config(reference, space=space, options=options, hooks=hooks, data=bundle,
                                  **{**given, "dataset": name})
            network = config.network_options
            given.update(dataset=config.dataset, data_dir=config.data_dir, input_size=config.input_size)
    return build_network(reference, hooks=hooks, space=space, options=network,
                         shape=None if bundle is None else bundle.shape, **given)


def exportable_network(
    reference: str | Path,
    *,
    untrained: bool = False,
    seed: int = 0,
    hooks: Hooks | None = None,
    **build: Any,
) -> BuiltNetwork:
    """The network ``nasplug export`` writes: a training folder's trained one, or, only with ``untrained``,
    the network :func:`info_network` describes (a search run's data and shape, train's network
    options) with fresh weights seeded by ``seed``. Either carries its dataset's preprocessing where
    known. ``build`` are :func:`info_network`'s keywords (refused for a training folder)."""
    import torch

    from nasplug.networks.export_metadata import dataset_preprocessing, read_run_preprocessing
    from nasplug.runs.origin import run_origin
    from nasplug.train.trained import is_training_dir, network_for

    hooks = _plugins(hooks)
    if is_training_dir(Path(reference)):
        return network_for(str(reference), hooks=hooks, **build)
    if not untrained:
        raise NasplugError(f"{reference} has no trained weights (it is not a `nasplug train` folder): train it "
                           f"first (nasplug train --genotype {reference}), or pass --untrained (untrained=True) "
                           f"to export freshly initialised weights")
    torch.manual_seed(seed)
    built = info_network(reference, hooks=hooks, **build)
    origin = run_origin(reference)
    kept = read_run_preprocessing(origin.folder) if origin is not None else None
    same = kept is not None and kept.input_size == built.data.input_size and built.dataset == origin.dataset
    data_dir = origin.data_dir if origin is not None and built.dataset == origin.dataset else None
    preprocessing = kept if same else dataset_preprocessing(built.dataset, data_dir, built.data.input_size, hooks)
    return attrs.evolve(built, preprocessing=preprocessing)


def _absolute_data_dir(values: dict[str, Any]) -> None:
    """A run records its data folder absolute: the folder travels with the run (train RUN, info, export)
    and is read from wherever that command runs, not only from where the run started."""
    if values.get("data_dir") is not None:
        values["data_dir"] = str(Path(values["data_dir"]).absolute())


def _say_taken_from_run(shown: Progress, reference: str, given: Mapping[str, Any], config: Any) -> None:
    """Print the data settings a run folder ``reference`` supplied (those the user left out)."""
    from nasplug.runs.origin import run_origin

    origin = run_origin(reference) if reference else None
    if origin is None:
        return
    taken = {key: getattr(config, key) for key, value in origin.data_settings(config.dataset).items()
             if given.get(key) is None and getattr(config, key) == value}
    if origin.taken(taken):
        shown.message(origin.taken(taken))


def _check_settings(
    function: Callable[..., Any], settings: Mapping[str, Any], table: Sequence[Setting]
) -> None:
    """Refuse a keyword ``function`` does not take, or a setting's value of another type, in one line each."""
    declared = _declared(table)
    unknown = sorted(set(settings) - set(declared))
    if unknown:
        own = [name for name, parameter in inspect.signature(function).parameters.items()
               if parameter.kind is not inspect.Parameter.VAR_KEYWORD]
        raise NasplugError(f"{function.__name__}() got unknown keyword {', '.join(unknown)}; it accepts: "
                           f"{', '.join([*own, *declared])}")
    for name, value in settings.items():
        expected = declared[name].type
        if value is not None and not matches_type(value, expected):
            raise NasplugError(f"{function.__name__}() keyword {name} expects "
                               f"{getattr(expected, '__name__', expected)}, got {value!r}")


def _declared(table: Sequence[Setting]) -> dict[str, Setting]:
    return {setting.name: setting for setting in table}


def _config_fields(settings: Mapping[str, Any], table: Sequence[Setting]) -> dict[str, Any]:
    """The settings given (not None) that set a configuration field, by field name; paths as strings."""
    return {setting.field: str(value) if isinstance(value, PurePath) else value
            for setting in table if setting.field is not None
            for value in [settings.get(setting.name)] if value is not None}


def _plugins(hooks: Hooks | None) -> Hooks:
    """The caller's plugin manager, else the installed plugins: where a run's one manager is made."""
    return hooks if hooks is not None else load_plugins()


@contextlib.contextmanager
def _run_plugins(hooks: Hooks | None, loggers: str | Sequence[str]) -> Iterator[Hooks]:
    """The run's one plugin manager (``hooks``, else the installed plugins) with the named loggers added
    for the run only: the caller's manager is as it was once the run ends."""
    from nasplug.loggers import add_loggers, parse_logger_names

    hooks = _plugins(hooks)
    with hooks.run_scope():
        add_loggers(hooks, parse_logger_names(loggers, hooks))
        yield hooks


@contextlib.contextmanager
def _joined(world: World | None, device: str) -> Iterator[World]:
    """``world`` as given, else this process's place in torchrun's process group, joined for the run."""
    from nasplug.runs.device import resolve_device
    from nasplug.search.distributed import joined

    if world is not None:
        yield world
        return
    with joined(resolve_device(device)) as own:
        yield own


@contextlib.contextmanager
def _interruptible(folder: Path, progress: Progress) -> Iterator[None]:
    """Turn Ctrl-C during the run into :class:`RunInterrupted`, which says which folder to continue."""
    try:
        yield
    except KeyboardInterrupt as exc:
        raise RunInterrupted(folder, progress) from exc


def _progress(progress: bool | Progress, shown_here: bool = True) -> Progress:
    """``progress`` as given, or the display (where this process shows it: rank 0 of torchrun's) or none."""
    return progress if isinstance(progress, Progress) else Progress(enabled=bool(progress) and shown_here)


def latency(
    genotype: str | Path,
    *,
    space: str | None = None,
    dataset: str | None = None,
    data_dir: str | Path | None = None,
    input_size: int | None = None,
    options: Mapping[str, Any] | None = None,
    device: str = "cpu",
    batch_size: int = 1,
    precision: str = "fp32",
    threads: int = 1,
    warmup: int = 10,
    runs: int = 50,
    hooks: Hooks | None = None,
) -> LatencyReport:
    """The measured latency (ms) of a genotype's standalone network, as ``nasplug latency`` reports it.

    The input is the dataset's size (``input_size`` overrides it); every other part of the protocol is
    a keyword (nasplug.networks.latency). ``options`` and ``hooks`` as for :func:`info`.
    """
    from nasplug.networks.build import build_network
    from nasplug.networks.latency import LatencyProtocol, measure_latency

    built = build_network(str(genotype), hooks=_plugins(hooks), dataset=dataset, data_dir=data_dir,
                          input_size=input_size, space=space, options=dict(options or {}))
    protocol = LatencyProtocol(device, batch_size, precision, threads, built.data.input_size, warmup, runs)
    return measure_latency(built.module, built.data.in_channels, protocol)


def latency_table(
    out: str | Path,
    *,
    dataset: str = "imagenet",
    input_size: int | None = None,
    options: Mapping[str, Any] | None = None,
    device: str = "cpu",
    batch_size: int = 1,
    precision: str = "fp32",
    threads: int = 1,
    warmup: int = 10,
    runs: int = 50,
    progress: Callable[[str], None] = lambda _line: None,
    statistic: str = "median",
    hooks: Hooks | None = None,
) -> LatencyTable:
    """Measure proxyless-mbv2's per-block latency table on this device and save it to ``out`` (atomically).

    ``options`` are the space's (``skeleton``, ``width_mult``, ``kernels``, ...); the table prices a
    search of the space with the same options (``--cost-model proxyless-lut:OUT``). Each entry is the
    median of its timed runs, or with ``statistic="min"`` their minimum (for a machine other jobs share).
    """
    from nasplug.networks.latency import LatencyProtocol
    from nasplug.networks.lookup_table import build_latency_table, save_latency_table

    hooks = _plugins(hooks)
    data = hooks.dataset_shape(dataset)
    if input_size is not None:
        data = attrs.evolve(data, input_size=input_size)
    space = hooks.build_space("proxyless-mbv2", data, dict(options or {}))
    protocol = LatencyProtocol(device, batch_size, precision, threads, data.input_size, warmup, runs)
    table = build_latency_table(space, protocol, progress, statistic)  # type: ignore[arg-type]
    save_latency_table(table, Path(out))
    return table
