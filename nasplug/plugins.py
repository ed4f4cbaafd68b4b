"""Plugin discovery: the built-in spaces, the ``nasplug`` and ``nasplug.controllers`` entry points.

Everything that can go wrong while loading someone else's code becomes a
:class:`PluginError` whose one-line message names the plugin and the
distribution it came from, never a traceback.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import Any

import attrs
import pluggy

from nasplug import hookspecs
from nasplug.arch import Architecture, Feedback, Step
from nasplug.controller import Controller
from nasplug.errors import NasplugError
from nasplug.options import resolve_options
from nasplug.space import DataShape, Genotype, SearchSpace

PROJECT = "nasplug"
PLUGIN_GROUP = "nasplug"
CONTROLLER_GROUP = "nasplug.controllers"
BUILTIN_PLUGINS = ("nasplug.spaces",)


class PluginError(NasplugError, RuntimeError):
    """A plugin is missing, broken or unknown; the message is meant for the user as is."""


@attrs.frozen
class Provider:
    """Where something came from: plugin (or entry-point) name, distribution and its version."""

    plugin: str
    distribution: str
    version: str


@attrs.frozen
class SpaceEntry:
    name: str
    cls: type[SearchSpace]
    provider: Provider


@attrs.frozen
class ControllerEntry:
    name: str
    entry_point: metadata.EntryPoint = attrs.field(eq=False)
    provider: Provider

    def load(self) -> type[Controller]:
        """Import the controller class; import failures and wrong types become PluginError."""
        where = f"controller {self.name!r} ({self.provider.distribution} {self.provider.version})"
        try:
            cls = self.entry_point.load()
        except Exception as exc:  # any import-time failure of third-party code
            raise PluginError(f"{where} failed to import: {type(exc).__name__}: {exc}") from exc
        if not (isinstance(cls, type) and issubclass(cls, Controller)):
            raise PluginError(f"{where}: {self.entry_point.value} is not a nasplug.Controller subclass")
        return cls


def _provider(entry_point: metadata.EntryPoint) -> Provider:
    dist = entry_point.dist
    if dist is None:
        return Provider(entry_point.name, "unknown", "")
    return Provider(entry_point.name, dist.metadata["Name"], dist.version)


def _unique_entry_points(group: str) -> list[metadata.EntryPoint]:
    """Entry points of ``group``, once per (name, value) even if a path lists a dist twice."""
    seen = set()
    result = []
    for entry_point in metadata.entry_points(group=group):
        if (entry_point.name, entry_point.value) not in seen:
            seen.add((entry_point.name, entry_point.value))
            result.append(entry_point)
    return result


def load_plugins(load_entry_points: bool = True) -> Hooks:
    """A plugin manager with the hook specs, external plugin modules, then the built-ins."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    providers: dict[str, Provider] = {}
    if load_entry_points:
        for entry_point in _unique_entry_points(PLUGIN_GROUP):
            provider = _provider(entry_point)
            where = f"plugin {entry_point.name!r} ({provider.distribution} {provider.version})"
            try:
                module = entry_point.load()
            except Exception as exc:  # third-party import failure
                raise PluginError(f"{where} failed to import: {type(exc).__name__}: {exc}") from exc
            _register(pm, module, entry_point.name, where)
            providers[entry_point.name] = provider
    for module_name in BUILTIN_PLUGINS:
        _register(pm, importlib.import_module(module_name), module_name, f"built-in {module_name}")
        providers[module_name] = Provider(module_name, PROJECT, _version(PROJECT))
    _check_pending(pm, "a plugin")
    return Hooks(pm, providers)


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


def _register(pm: pluggy.PluginManager, plugin: object, name: str, where: str) -> None:
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"{where} has a bad hook implementation: {exc}") from exc
    except ValueError as exc:  # already registered under this name
        raise PluginError(f"{where}: {exc}") from exc


def _check_pending(pm: pluggy.PluginManager, where: str) -> None:
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"{where} implements an unknown hook: {exc}") from exc


def available_controllers() -> dict[str, ControllerEntry]:
    """Every controller class installed in the ``nasplug.controllers`` group, by name (not imported)."""
    return {
        ep.name: ControllerEntry(ep.name, ep, _provider(ep))
        for ep in _unique_entry_points(CONTROLLER_GROUP)
    }


def _unknown(kind: str, name: str, available: Sequence[str]) -> PluginError:
    listed = ", ".join(sorted(available)) or "none installed"
    return PluginError(f"unknown {kind} {name!r}; available: {listed}")


def controller_entry(name: str) -> ControllerEntry:
    controllers = available_controllers()
    if name not in controllers:
        raise _unknown("controller", name, list(controllers))
    return controllers[name]


class Hooks:
    """Typed calls into the run's hooks, so the engine never passes untyped keywords around."""

    def __init__(self, pm: pluggy.PluginManager, providers: Mapping[str, Provider]) -> None:
        self.pm = pm
        self.providers = dict(providers)

    def spaces(self) -> dict[str, SpaceEntry]:
        """Every space any registered plugin lists, by name."""
        spaces = {}
        for impl in self.pm.hook.list_search_spaces.get_hookimpls():
            provider = self.providers.get(impl.plugin_name, Provider(impl.plugin_name, "unknown", ""))
            for name, cls in impl.function().items():
                spaces[name] = SpaceEntry(name, cls, provider)
        return spaces

    def space_entry(self, name: str) -> SpaceEntry:
        spaces = self.spaces()
        if name not in spaces:
            raise _unknown("space", name, list(spaces))
        return spaces[name]

    def build_space(self, name: str, data: DataShape, given: Mapping[str, Any]) -> SearchSpace:
        """Resolve ``given`` against the space's declared options and build it."""
        entry = self.space_entry(name)
        options = resolve_options(entry.cls.options, given, f"space {name!r}")
        space = self.pm.hook.build_search_space(name=name, data=data, options=options)
        return space if space is not None else entry.cls(data, options)

    def add_controller(self, controller: Controller, name: str) -> None:
        _register(self.pm, controller, f"controller:{name}", f"controller {name!r}")
        _check_pending(self.pm, f"controller {name!r}")

    def add_observer(self, observer: object, name: str) -> None:
        """Register a logger (or any observer object) for this run."""
        _register(self.pm, observer, name, name)
        _check_pending(self.pm, name)

    def sample_architecture(self, space: SearchSpace, step: Step) -> list[Architecture]:
        samples = self.pm.hook.sample_architecture(space=space, step=step)
        if not samples:
            raise PluginError("no controller returned architectures from sample_architecture")
        return list(samples)

    def record_feedback(
        self, space: SearchSpace, samples: Sequence[Architecture], feedback: Sequence[Feedback], step: Step
    ) -> None:
        self.pm.hook.record_feedback(space=space, samples=samples, feedback=feedback, step=step)

    def sample_weights(
        self, space: SearchSpace, samples: Sequence[Architecture], feedback: Sequence[Feedback], step: Step
    ) -> list[float]:
        weights = self.pm.hook.sample_weights(space=space, samples=samples, feedback=feedback, step=step)
        if weights is None:
            return [1.0 / len(samples)] * len(samples)
        if len(weights) != len(samples):
            raise PluginError(f"sample_weights returned {len(weights)} weights for {len(samples)} samples")
        return [float(w) for w in weights]

    def update_distribution(self, space: SearchSpace, step: Step) -> None:
        self.pm.hook.update_distribution(space=space, step=step)

    def derive_genotype(self, space: SearchSpace) -> Genotype:
        genotype = self.pm.hook.derive_genotype(space=space)
        if genotype is None:
            raise PluginError("no controller derived a genotype (derive_genotype returned None)")
        return genotype

    def report_distribution(self, space: SearchSpace) -> dict[str, list[float]]:
        probabilities = self.pm.hook.report_distribution(space=space)
        return {k: [float(p) for p in v] for k, v in (probabilities or {}).items()}

    def epoch_finished(self, record: Mapping[str, Any], run_dir: str) -> None:
        self.pm.hook.epoch_finished(record=record, run_dir=run_dir)

    def train_epoch_finished(self, record: Mapping[str, Any], out_dir: str) -> None:
        self.pm.hook.train_epoch_finished(record=record, out_dir=out_dir)
