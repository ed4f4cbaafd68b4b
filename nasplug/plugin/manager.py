"""The run's plugin manager: :func:`load_plugins` builds it, :class:`Hooks` answers every lookup and call.

One ``Hooks`` per run: the entry point (``nasplug.api``, ``nasplug.cli``) builds it and
passes it down, so a plugin registered on it through the Python API is the one a
run's data, space, controller and loggers come from. Every call into plugin code goes
through :meth:`Hooks._call` or :func:`~nasplug.plugin.errors.guard_plugin`: a plugin
raising, or returning the wrong type, becomes a one-line PluginError naming the plugin,
its distribution and the hook (as pytest names a failing plugin).
"""

from __future__ import annotations

import contextlib
import operator
import traceback
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import pluggy
import torch

from nasplug.core.architecture import Architecture, Feedback, Step
from nasplug.core.controller import Controller
from nasplug.core.cost import CostModel
from nasplug.core.errors import NasplugError
from nasplug.core.markers import PROJECT
from nasplug.core.options import resolve_options
from nasplug.core.space import DataShape, Genotype, SearchSpace
from nasplug.data import DataBundle, DatasetError, DatasetInfo, DatasetOptions, dataset_options
from nasplug.plugin import hookspecs
from nasplug.plugin.discovery import (
    CONTROLLER_GROUP,
    LOGGER_GROUP,
    PLUGIN_GROUP,
    Discovered,
    RecipeEntry,
    discover,
    discover_named,
    discover_recipes,
)
from nasplug.plugin.errors import PluginError, Provider, describe, guard_plugin, one_per_name, unknown_name


@attrs.frozen
class SpaceEntry:
    name: str
    cls: type[SearchSpace]
    provider: Provider
    conflict: str | None = None
    """Set when several plugins list this name: building it is refused with this message."""


@attrs.frozen
class CostModelEntry:
    name: str
    cls: type[CostModel]
    provider: Provider
    conflict: str | None = None
    """As :attr:`SpaceEntry.conflict`."""


@attrs.frozen
class DatasetEntry:
    name: str
    info: DatasetInfo
    provider: Provider
    conflict: str | None = None
    """As :attr:`SpaceEntry.conflict`."""


def load_plugins(load_entry_points: bool = True) -> Hooks:
    """A plugin manager with the hook specs, the installed plugin modules, then the built-ins.

    A plugin module that fails to import or to register (a bad or unknown hook), or
    whose name several distributions claim, is left out and recorded in
    ``Hooks.broken``: one broken distribution never stops the others, and
    ``nasplug plugins`` lists it as BROKEN. ``load_entry_points=False``: built-ins only.
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    hooks = Hooks(pm, {}, installed=load_entry_points)
    modules = one_per_name(discover(PLUGIN_GROUP, installed=load_entry_points), "plugin module")
    for name, entry in modules.items():
        try:
            hooks.add_plugin(entry.load(), name, entry.provider)
        except PluginError as exc:
            hooks.broken[name] = str(exc)
    return hooks


class Hooks:
    """Typed calls into the run's hooks and every lookup of the run, so no caller passes untyped keywords.

    Spaces and datasets come from the registered plugins; controllers, recipes and
    loggers from their entry-point groups. Each ``x_entry(name)`` lookup raises a
    PluginError for an unknown name (listing the known ones) and for a name several
    plugins claim (naming them all).
    """

    def __init__(
        self,
        pm: pluggy.PluginManager,
        providers: Mapping[str, Provider],
        broken: Mapping[str, str] | None = None,
        *,
        installed: bool = True,
    ) -> None:
        self.pm = pm
        self.providers = dict(providers)
        self.broken = dict(broken or {})  # plugin name -> why it was left out
        self.installed = installed
        """Whether the installed distributions' entry points count, or only nasplug's built-ins."""
        self._sizes_of: tuple[SearchSpace, dict[str, int] | None] | None = None

    # ------------------------------------------------------------------ registration

    def add_plugin(self, plugin: object, name: str, provider: Provider | None = None) -> None:
        """Register ``plugin`` (a module or an object implementing hooks) for this run; check its hook names.

        ``name`` may carry a kind (``controller:mdenas``, ``logger:csv``) that messages name it by;
        ``provider`` names its distribution. A plugin that fails to register is a PluginError
        and leaves the manager as it was.
        """
        where = _describe_plugin(name, provider)
        try:
            self.pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"{where} has a bad hook implementation: {exc}") from exc
        except ValueError as exc:  # already registered under this name; pluggy lists every plugin after line 1
            raise PluginError(f"{where}: {str(exc).splitlines()[0]}") from exc
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(name=name)
            raise PluginError(f"{where} implements an unknown hook: {exc}") from exc
        if provider is not None:
            self.providers[name] = provider

    def add_controller(self, controller: Controller, name: str, provider: Provider | None = None) -> None:
        """Register the run's controller; ``provider`` names its distribution in error messages.

        A manager holds one controller at a time: two would both receive the broadcast hooks.
        """
        held = [plugin for plugin, _ in self.pm.list_name_plugin() if plugin.startswith("controller:")]
        if held:
            raise PluginError(f"this plugin manager already holds {held[0].replace(':', ' ', 1)!r} for a run; "
                              f"a run registers its own controller, so pass a manager without one")
        own = provider or Provider(name, type(controller).__module__.partition(".")[0], "")
        self.add_plugin(controller, f"controller:{name}", own)

    @contextlib.contextmanager
    def run_scope(self) -> Iterator[Hooks]:
        """Everything registered inside (a run's controller, its loggers) is removed at the end, however
        the run ends, so the same manager serves the caller's next run."""
        before = {name for name, _ in self.pm.list_name_plugin()}
        try:
            yield self
        finally:
            for name, _ in list(self.pm.list_name_plugin()):
                if name not in before:
                    self.pm.unregister(name=name)
                    self.providers.pop(name, None)

    # ------------------------------------------------------------------ lookups

    def spaces(self) -> dict[str, SpaceEntry]:
        """Every space any registered plugin lists, by name; a name listed twice carries a conflict."""
        spaces = [SpaceEntry(name, cls, provider) for provider, listed in self._listings(
            "list_search_spaces", "a dict of name -> SearchSpace class") for name, cls in listed.items()]
        return one_per_name(spaces, "space")

    def space_entry(self, name: str) -> SpaceEntry:
        spaces = self.spaces()
        if name not in spaces:
            error = unknown_name("space", name, spaces)
            if self.broken:
                raise PluginError(f"{error}; left out as broken: {'; '.join(self.broken.values())}")
            raise error
        return _usable(spaces[name])

    def datasets(self) -> dict[str, DatasetEntry]:
        """Every dataset any registered plugin lists, by name; a name listed twice carries a conflict."""
        datasets = [DatasetEntry(name, info, provider) for provider, listed in self._listings(
            "list_datasets", "a dict of name -> DatasetInfo") for name, info in listed.items()]
        return one_per_name(datasets, "dataset")

    def dataset_entry(self, name: str) -> DatasetEntry:
        """The dataset called ``name`` (case-insensitive where no plugin lists the exact spelling)."""
        datasets = self.datasets()
        by_lower = {key.lower(): entry for key, entry in datasets.items()}
        entry = datasets.get(name) or by_lower.get(name.lower())
        if entry is None:
            raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(datasets)}")
        return _usable(entry)

    def cost_models(self) -> dict[str, CostModelEntry]:
        """Every cost model any registered plugin lists, by name; a name listed twice carries a conflict."""
        models = [CostModelEntry(name, cls, provider) for provider, listed in self._listings(
            "list_cost_models", "a dict of name -> nasplug.CostModel subclass") for name, cls in listed.items()]
        return one_per_name(models, "cost model")

    def build_cost_model(self, spec: str, space: SearchSpace) -> CostModel:
        """The cost model ``NAME`` or ``NAME:ARGUMENT`` (e.g. a lookup table's file) for ``space``."""
        name, _, argument = spec.partition(":")
        entry = _pick(self.cost_models(), "cost model", name)
        where = describe(entry.provider, "plugin")
        return guard_plugin(where, f"cost model {name!r}.__init__", lambda: entry.cls(space, argument or None))

    def controllers(self) -> dict[str, Discovered]:
        """Every controller class of the ``nasplug.controllers`` group, by name (not imported)."""
        return discover_named(CONTROLLER_GROUP, installed=self.installed)

    def controller_entry(self, name: str) -> Discovered:
        return _pick(self.controllers(), "controller", name)

    def recipes(self) -> dict[str, RecipeEntry]:
        """Every named recipe: nasplug's own and those of the ``nasplug.recipes`` packages."""
        return discover_recipes(installed=self.installed)

    def recipe_entry(self, name: str) -> RecipeEntry:
        return _pick(self.recipes(), "recipe", name)

    def loggers(self) -> dict[str, Discovered]:
        """Every logger class: the built-in csv and tensorboard, then the ``nasplug.loggers`` group."""
        return discover_named(LOGGER_GROUP, installed=self.installed)

    def logger_entry(self, name: str) -> Discovered:
        return _pick(self.loggers(), "logger", name)

    # ------------------------------------------------------------------ building

    def build_space(self, name: str, data: DataShape, given: Mapping[str, Any]) -> SearchSpace:
        """Resolve ``given`` against the space's declared options and build it."""
        entry = self.space_entry(name)
        options = resolve_options(entry.cls.options, given, f"space {name!r}")
        space = self._call("build_search_space", name=name, data=data, options=options)
        if space is None:
            where = describe(entry.provider, "plugin")
            space = guard_plugin(where, f"space {name!r}.__init__", lambda: entry.cls(data, options))
        if not isinstance(space, SearchSpace):
            raise PluginError(f"{self._implementers('build_search_space')}: build_search_space returned "
                              f"{_kind(space)}, expected a nasplug.SearchSpace")
        return space

    def load_dataset(self, name: str, data_dir: str | Path | None = None, **options: Any) -> DataBundle:
        """Dataset ``name`` from the plugin providing it, files under ``data_dir``.

        ``options`` are :class:`~nasplug.data.DatasetOptions` fields (``augment``, ``cutout``,
        ``download``, ``input_size``, ``normalisation``), checked by :func:`nasplug.data.dataset_options`
        before any plugin is called; ``data_dir`` defaults to where each built-in keeps its files.
        """
        checked = dataset_options(**options)
        root = Path(data_dir).expanduser() if data_dir is not None else None
        return self.build_dataset(name, root, checked)

    def dataset_shape(self, name: str, data_dir: str | Path | None = None) -> DataShape:
        """The shape of dataset ``name``: its nominal one without reading a file where it has one
        (ImageNet: 1000 classes at 224 px), otherwise that of the loaded files (a folder dataset)."""
        entry = self.dataset_entry(name)
        if entry.info.shape is not None:
            return entry.info.shape
        return self.load_dataset(entry.name, data_dir, augment=False, download=False).shape

    def build_dataset(self, name: str, data_dir: Path | None, options: DatasetOptions) -> DataBundle:
        """Dataset ``name`` from the first plugin that builds it with ``options``; checks it is a bundle."""
        entry = self.dataset_entry(name)
        bundle = self._call("build_dataset", name=entry.name, data_dir=data_dir, options=options)
        where = f"dataset {entry.name!r} ({entry.provider.distribution} {entry.provider.version})"
        if bundle is None:
            raise PluginError(f"{where} is listed, but no plugin's build_dataset built it")
        if not isinstance(bundle, DataBundle):
            raise PluginError(f"{where}: build_dataset returned a {type(bundle).__name__}, not a DataBundle")
        return bundle

    # ------------------------------------------------------------------ the controller's hooks

    def sample_architecture(self, space: SearchSpace, step: Step) -> list[Architecture]:
        samples = self._call("sample_architecture", space=space, step=step)
        if samples is None:
            raise PluginError("no controller returned architectures from sample_architecture")
        who = self._implementers("sample_architecture")
        if isinstance(samples, (str, bytes, Mapping)) or not isinstance(samples, Sequence) or not all(
            isinstance(sample, Architecture) for sample in samples
        ):
            raise PluginError(f"{who}: sample_architecture returned {_kind(samples)}, expected a list of "
                              f"nasplug.Architecture")
        if not samples:
            raise PluginError(f"{who}: sample_architecture returned no architectures (an empty list)")
        sizes = self._known_sizes(space)
        for number, sample in enumerate(samples):
            problem = _sample_problem(sample, sizes) if sizes is not None else None
            if problem is not None:
                raise PluginError(f"{who}: sample_architecture returned an architecture (sample {number}) "
                                  f"whose {problem}")
        return list(samples)

    def _known_sizes(self, space: SearchSpace) -> dict[str, int] | None:
        """:meth:`_decision_sizes`, computed once per space object (every step asks)."""
        if self._sizes_of is None or self._sizes_of[0] is not space:
            self._sizes_of = (space, self._decision_sizes(space))
        return self._sizes_of[1]

    def _decision_sizes(self, space: SearchSpace) -> dict[str, int] | None:
        """Each decision key of ``space`` in any factorisation, with its number of choices (None for a
        duck-typed test space without factorisations); what every sample and reported distribution must fit."""
        if not isinstance(space, SearchSpace):
            return None
        return {decision.key: len(decision.choices) for factorisation in space.factorisations
                for decision in space.decisions(factorisation)}

    def check_space_unchanged(self, space: SearchSpace, before: Any) -> None:
        """Raise a PluginError naming the controller where ``space`` no longer has the decisions and
        options it had when ``before`` (:meth:`space_fingerprint`) was taken: a controller changed it."""
        if self.space_fingerprint(space) != before:
            raise PluginError(f"{self._implementers('update_distribution')}: the search space changed during "
                              f"the epoch (its decisions or options); a controller must not modify the space")

    def space_fingerprint(self, space: SearchSpace) -> Any:
        """What a controller must leave as it found it: the space's decisions and options."""
        return (self._decision_sizes(space), repr(sorted(getattr(space, "config", {}).items())))

    def record_feedback(
        self, space: SearchSpace, samples: Sequence[Architecture], feedback: Sequence[Feedback], step: Step
    ) -> None:
        self._call("record_feedback", space=space, samples=samples, feedback=feedback, step=step)

    def sample_weights(
        self, space: SearchSpace, samples: Sequence[Architecture], feedback: Sequence[Feedback], step: Step
    ) -> list[float]:
        weights = self._call("sample_weights", space=space, samples=samples, feedback=feedback, step=step)
        if weights is None:
            return [1.0 / len(samples)] * len(samples)
        numbers = _numbers(weights)
        if numbers is None:
            raise PluginError(f"{self._implementers('sample_weights')}: sample_weights returned "
                              f"{_kind(weights)}, expected a list of numbers")
        if len(numbers) != len(samples):
            raise PluginError(f"{self._implementers('sample_weights')}: sample_weights returned "
                              f"{len(numbers)} weights for {len(samples)} samples")
        negative = [weight for weight in numbers if weight < 0]
        if negative:
            raise PluginError(f"{self._implementers('sample_weights')}: sample_weights returned the negative "
                              f"weight {negative[0]:g}; a sample's weight scales its loss and must be ≥ 0")
        return numbers

    def update_distribution(self, space: SearchSpace, step: Step) -> None:
        self._call("update_distribution", space=space, step=step)

    def derive_genotype(self, space: SearchSpace) -> Genotype:
        genotype = self._call("derive_genotype", space=space)
        if genotype is None:
            raise PluginError("no controller derived a genotype (derive_genotype returned None)")
        # Only real spaces promise Genotypes; duck-typed test spaces may derive any value.
        if isinstance(space, SearchSpace) and not isinstance(genotype, Genotype):
            raise PluginError(f"{self._implementers('derive_genotype')}: derive_genotype returned "
                              f"{_kind(genotype)}, expected a nasplug Genotype")
        return genotype

    def report_distribution(self, space: SearchSpace) -> dict[str, list[float]]:
        probabilities = self._call("report_distribution", space=space) or {}
        converted = {key: _numbers(value) for key, value in probabilities.items()} if isinstance(
            probabilities, Mapping) else None
        if converted is None or any(value is None for value in converted.values()):
            raise PluginError(f"{self._implementers('report_distribution')}: report_distribution returned "
                              f"{_kind(probabilities)}, expected a dict of decision -> list of probabilities")
        reported = {str(key): value for key, value in converted.items() if value is not None}
        problem = _distribution_problem(reported, self._known_sizes(space))
        if problem is not None:
            raise PluginError(f"{self._implementers('report_distribution')}: report_distribution returned "
                              f"{problem}")
        return reported

    # ------------------------------------------------------------------ observers

    def epoch_finished(self, record: Mapping[str, Any], run_dir: str) -> list[str]:
        """Tell every observer; each one's failure is returned as a message instead of stopping the run.

        The epoch is already on disk when observers hear of it: a broken logger must not end a search.
        """
        return self._observe("epoch_finished", {"record": record, "run_dir": run_dir})

    def train_epoch_finished(self, record: Mapping[str, Any], out_dir: str) -> list[str]:
        """As :meth:`epoch_finished`, for an epoch of ``nasplug train``."""
        return self._observe("train_epoch_finished", {"record": record, "out_dir": out_dir})

    def _observe(self, hook: str, arguments: Mapping[str, Any]) -> list[str]:
        failures = []
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            try:
                self._guarded(impl, hook, **{k: arguments[k] for k in impl.argnames})
            except PluginError as exc:
                failures.append(str(exc))
        return failures

    # ------------------------------------------------------------------ blame

    def _listings(self, hook: str, expected: str) -> list[tuple[Provider, Mapping[str, Any]]]:
        """Each implementation of listing hook ``hook``, called guarded, with the provider of its plugin;
        a listing that is not a dict of names to what ``expected`` says is that plugin's PluginError."""
        fits = {"list_search_spaces": lambda value: isinstance(value, type) and issubclass(value, SearchSpace),
                "list_datasets": lambda value: isinstance(value, DatasetInfo),
                "list_cost_models": lambda value: isinstance(value, type) and issubclass(value, CostModel)}[hook]
        listings = []
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            listed = self._guarded(impl, hook)
            if not isinstance(listed, Mapping) or not all(
                    isinstance(name, str) and fits(value) for name, value in listed.items()):
                raise PluginError(f"{self._who(impl)}: {hook} returned {_kind(listed)}, expected {expected}")
            listings.append((self.providers.get(impl.plugin_name, Provider(impl.plugin_name, "unknown", "")),
                             listed))
        return listings

    def _call(self, hook: str, **kwargs: Any) -> Any:
        caller = getattr(self.pm.hook, hook)
        try:
            return caller(**kwargs)
        except NasplugError:  # already a message meant for the user
            raise
        except Exception as exc:  # third-party code: name who failed, never a traceback
            culprit = self._culprit(hook, exc)
            raise PluginError(f"{culprit} failed in {hook}: {type(exc).__name__}: {exc}") from exc

    def _guarded(self, impl: Any, hook: str, **kwargs: Any) -> Any:
        return guard_plugin(self._who(impl), hook, lambda: impl.function(**kwargs))

    def _who(self, impl: Any) -> str:
        return _describe_plugin(impl.plugin_name, self.providers.get(impl.plugin_name))

    def _implementers(self, hook: str) -> str:
        impls = getattr(self.pm.hook, hook).get_hookimpls()
        return " or ".join(self._who(impl) for impl in reversed(impls)) or "no plugin"

    def _culprit(self, hook: str, exc: BaseException) -> str:
        """The plugin whose implementation of ``hook`` is on the exception's traceback."""
        impls = {_code(impl.function): impl for impl in getattr(self.pm.hook, hook).get_hookimpls()}
        for frame, _ in traceback.walk_tb(exc.__traceback__):
            if frame.f_code in impls:
                return self._who(impls[frame.f_code])
        return self._implementers(hook)


def _describe_plugin(name: str, provider: Provider | None) -> str:
    """``controller 'mdenas' (nasplug-mdenas 0.1.0)`` for plugin name ``controller:mdenas``."""
    kind, _, short = name.rpartition(":")
    return describe(attrs.evolve(provider or Provider(short, "unknown", ""), plugin=short), kind or "plugin")


def _pick(entries: Mapping[str, Any], kind: str, name: str) -> Any:
    """Entry ``name`` of ``entries``: unknown names list the known ones; a claimed-twice name is refused."""
    if name not in entries:
        raise unknown_name(kind, name, entries)
    return _usable(entries[name])


def _usable(entry: Any) -> Any:
    if entry.conflict is not None:
        raise PluginError(entry.conflict)
    return entry


def _code(function: Any) -> Any:
    return getattr(getattr(function, "__func__", function), "__code__", None)


def _kind(value: Any) -> str:
    text = repr(value)
    return f"a {type(value).__name__} ({text[:40] + '...' if len(text) > 40 else text})"


def _sample_problem(sample: Architecture, sizes: Mapping[str, int]) -> str | None:
    """What is wrong with ``sample`` for a space of decisions ``sizes`` (key → choices), or None."""
    for key, paths in sample.paths.items():
        if key not in sizes:
            return f"decision key {key!r} is not one of the space's"
        for path in paths:
            choice = path.choice
            if isinstance(choice, bool) or not _is_index(choice):
                return f"choice {choice!r} for {key!r} is not an integer index"
            if not 0 <= operator.index(choice) < sizes[key]:
                return f"choice {choice} for {key!r} is out of range ({sizes[key]} choices)"
            gate = path.gate
            if isinstance(gate, torch.Tensor) and gate.numel() != 1:
                return f"gate for {key!r} has shape {tuple(gate.shape)}, expected a scalar"
            if gate is not None and not isinstance(gate, (torch.Tensor, int, float)):
                return f"gate for {key!r} is {_kind(gate)}, expected None, a number or a scalar tensor"
    return None


def _is_index(value: Any) -> bool:
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


def _distribution_problem(reported: Mapping[str, list[float]], sizes: Mapping[str, int] | None) -> str | None:
    """What is wrong with a reported distribution, or None: probabilities in [0, 1] (and finite), and where
    the space is known, only its decision keys, each with one probability per choice."""
    for key, probabilities in reported.items():
        bad = [p for p in probabilities if not 0 <= p <= 1]  # NaN fails both comparisons
        if bad:
            return f"the probability {bad[0]!r} for {key!r}; probabilities lie between 0 and 1"
        if sizes is None:
            continue
        if key not in sizes:
            return f"the unknown decision key {key!r}; the space's keys: {', '.join(sorted(sizes))}"
        if len(probabilities) != sizes[key]:
            return f"{len(probabilities)} probabilities for {key!r}, which has {sizes[key]} choices"
    return None


def _numbers(value: Any) -> list[float] | None:
    """``value`` as a list of floats, or None if it is not a sequence of real numbers."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        if not (hasattr(value, "tolist") and getattr(value, "ndim", 0) == 1):  # a 1-d tensor or array
            return None
        value = value.tolist()
    if any(isinstance(item, (str, bytes)) for item in value):
        return None
    try:
        return [float(item) for item in value]
    except (TypeError, ValueError):
        return None
