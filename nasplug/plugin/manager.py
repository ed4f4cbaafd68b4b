"""Plugin discovery: the built-in spaces, the ``nasplug`` and ``nasplug.controllers`` entry points.

Everything that can go wrong while loading someone else's code becomes a
:class:`PluginError` whose one-line message names the plugin and the
distribution it came from, never a traceback.
"""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import pluggy

from nasplug.plugin import hookspecs
from nasplug.core.architecture import Architecture, Feedback, Step
from nasplug.core.controller import Controller
from nasplug.core.errors import NasplugError
from nasplug.core.options import resolve_options
from nasplug.core.space import DataShape, Genotype, SearchSpace

if TYPE_CHECKING:
    from nasplug.data.bundle import DataBundle, DatasetInfo, DatasetOptions

PROJECT = "nasplug"
PLUGIN_GROUP = "nasplug"
CONTROLLER_GROUP = "nasplug.controllers"
BUILTIN_PLUGINS = ("nasplug.spaces", "nasplug.data.builtin")


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
    conflict: str | None = None
    """Set when several plugins list this name: building it is refused with this message."""


@attrs.frozen
class DatasetEntry:
    name: str
    info: DatasetInfo
    provider: Provider
    conflict: str | None = None
    """As :attr:`SpaceEntry.conflict`."""


@attrs.frozen
class ControllerEntry:
    name: str
    entry_point: metadata.EntryPoint = attrs.field(eq=False)
    provider: Provider
    conflict: str | None = None  # set when several distributions register this name

    def load(self) -> type[Controller]:
        """Import the controller class; import failures, wrong types and name conflicts become PluginError."""
        where = f"controller {self.name!r} ({self.provider.distribution} {self.provider.version})"
        if self.conflict is not None:
            raise PluginError(self.conflict)
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
    """A plugin manager with the hook specs, external plugin modules, then the built-ins.

    An external module that fails to import or to register (a bad or unknown
    hook) is left out and recorded in ``Hooks.broken``: one broken distribution
    never stops the others, and ``nasplug plugins`` lists it as BROKEN.
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    providers: dict[str, Provider] = {}
    broken: dict[str, str] = {}
    if load_entry_points:
        for entry_point in _unique_entry_points(PLUGIN_GROUP):
            provider = _provider(entry_point)
            try:
                _register_module(pm, entry_point, describe(provider, "plugin"))
            except PluginError as exc:
                broken[entry_point.name] = str(exc)
                continue
            providers[entry_point.name] = provider
    for module_name in BUILTIN_PLUGINS:
        _register(pm, importlib.import_module(module_name), module_name, f"built-in {module_name}")
        providers[module_name] = Provider(module_name, PROJECT, _version(PROJECT))
    return Hooks(pm, providers, broken)


def describe(provider: Provider, kind: str) -> str:
    """``plugin 'name' (distribution version)``: how every message names a plugin."""
    return f"{kind} {provider.plugin!r} ({provider.distribution} {provider.version})".replace(" )", ")")


def _register_module(pm: pluggy.PluginManager, entry_point: metadata.EntryPoint, where: str) -> None:
    try:
        module = entry_point.load()
    except Exception as exc:  # third-party import failure
        raise PluginError(f"{where} failed to import: {type(exc).__name__}: {exc}") from exc
    _register(pm, module, entry_point.name, where)
    try:
        _check_pending(pm, where)
    except PluginError:
        pm.unregister(name=entry_point.name)
        raise


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
    """Every controller class installed in the ``nasplug.controllers`` group, by name (not imported).

    A name that several distributions register is not silently shadowed: its
    entry refuses to load with a message naming them all.
    """
    by_name: dict[str, list[metadata.EntryPoint]] = {}
    for entry_point in _unique_entry_points(CONTROLLER_GROUP):
        by_name.setdefault(entry_point.name, []).append(entry_point)
    entries = {}
    for name, points in by_name.items():
        conflict = None
        if len(points) > 1:
            owners = ", ".join(f"{_provider(ep).distribution} ({ep.value})" for ep in points)
            conflict = (f"controller {name!r} is registered by several distributions: {owners}; "
                        f"uninstall all but one")
        entries[name] = ControllerEntry(name, points[0], _provider(points[0]), conflict)
    return entries


Listed = TypeVar("Listed", SpaceEntry, DatasetEntry)


def _one_per_name(entries: Sequence[Listed], kind: str) -> dict[str, Listed]:
    """The entries by name; a name that several plugins list carries a conflict naming them all.

    Without it the name would silently mean whichever plugin pluggy called last.
    """
    by_name: dict[str, list[Listed]] = {}
    for entry in entries:
        by_name.setdefault(entry.name, []).append(entry)
    chosen = {}
    for name, listed in by_name.items():
        chosen[name] = listed[0]
        if len(listed) > 1:
            owners = ", ".join(describe(entry.provider, "plugin") for entry in listed)
            chosen[name] = attrs.evolve(listed[0], conflict=f"{kind} {name!r} is listed by several plugins: "
                                                            f"{owners}; uninstall all but one")
    return chosen


def _unknown(kind: str, name: str, available: Sequence[str]) -> PluginError:
    listed = ", ".join(sorted(available)) or "none installed"
    return PluginError(f"unknown {kind} {name!r}; available: {listed}")


def controller_entry(name: str) -> ControllerEntry:
    controllers = available_controllers()
    if name not in controllers:
        raise _unknown("controller", name, list(controllers))
    return controllers[name]


class Hooks:
    """Typed calls into the run's hooks, so the engine never passes untyped keywords around.

    A plugin raising in a hook, or returning the wrong type, becomes a PluginError
    naming the plugin, its distribution and the hook (as pytest names a failing plugin).
    """

    def __init__(
        self,
        pm: pluggy.PluginManager,
        providers: Mapping[str, Provider],
        broken: Mapping[str, str] | None = None,
    ) -> None:
        self.pm = pm
        self.providers = dict(providers)
        self.broken = dict(broken or {})  # plugin name -> why it was left out

    def spaces(self) -> dict[str, SpaceEntry]:
        """Every space any registered plugin lists, by name; a name listed twice carries a conflict."""
        spaces: list[SpaceEntry] = []
        for impl in self.pm.hook.list_search_spaces.get_hookimpls():
            provider = self.providers.get(impl.plugin_name, Provider(impl.plugin_name, "unknown", ""))
            listed = self._guarded(impl, "list_search_spaces")
            if not isinstance(listed, Mapping):
                raise PluginError(f"{self._who(impl)}: list_search_spaces returned {_kind(listed)}, "
                                  f"expected a dict of name -> SearchSpace class")
            spaces.extend(SpaceEntry(name, cls, provider) for name, cls in listed.items())
        return _one_per_name(spaces, "space")

    def space_entry(self, name: str) -> SpaceEntry:
        spaces = self.spaces()
        if name not in spaces:
            error = _unknown("space", name, list(spaces))
            if self.broken:
                raise PluginError(f"{error}; left out as broken: {'; '.join(self.broken.values())}")
            raise error
        if spaces[name].conflict:
            raise PluginError(spaces[name].conflict)
        return spaces[name]

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

    def datasets(self) -> dict[str, DatasetEntry]:
        """Every dataset any registered plugin lists, by name."""
        datasets: list[DatasetEntry] = []
        for impl in self.pm.hook.list_datasets.get_hookimpls():
            provider = self.providers.get(impl.plugin_name, Provider(impl.plugin_name, "unknown", ""))
            datasets.extend(DatasetEntry(name, info, provider) for name, info in impl.function().items())
        return _one_per_name(datasets, "dataset")

    def dataset_entry(self, name: str) -> DatasetEntry:
        """The dataset called ``name`` (case-insensitive where no plugin lists the exact spelling)."""
        from nasplug.data.bundle import DatasetError

        datasets = self.datasets()
        by_lower = {key.lower(): entry for key, entry in datasets.items()}
        entry = datasets.get(name) or by_lower.get(name.lower())
        if entry is None:
            raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(datasets)}")
        if entry.conflict:
            raise DatasetError(entry.conflict)
        return entry

    def build_dataset(self, name: str, data_dir: Path | None, options: DatasetOptions) -> DataBundle:
        """Load dataset ``name`` from the first plugin that builds it; checks that it returned a bundle."""
        from nasplug.data.bundle import DataBundle

        entry = self.dataset_entry(name)
        bundle = self.pm.hook.build_dataset(name=entry.name, data_dir=data_dir, options=options)
        where = f"dataset {entry.name!r} ({entry.provider.distribution} {entry.provider.version})"
        if bundle is None:
            raise PluginError(f"{where} is listed, but no plugin's build_dataset built it")
        if not isinstance(bundle, DataBundle):
            raise PluginError(f"{where}: build_dataset returned a {type(bundle).__name__}, not a DataBundle")
        return bundle

    def add_controller(self, controller: Controller, name: str, provider: Provider | None = None) -> None:
        """Register the run's controller; ``provider`` names its distribution in error messages."""
        plugin = f"controller:{name}"
        self.providers[plugin] = provider or Provider(name, type(controller).__module__.partition(".")[0], "")
        _register(self.pm, controller, plugin, f"controller {name!r}")
        _check_pending(self.pm, f"controller {name!r}")

    def add_observer(self, observer: object, name: str) -> None:
        """Register a logger (or any observer object) for this run."""
        _register(self.pm, observer, name, name)
        _check_pending(self.pm, name)

    def sample_architecture(self, space: SearchSpace, step: Step) -> list[Architecture]:
        samples = self._call("sample_architecture", space=space, step=step)
        if not samples:
            raise PluginError("no controller returned architectures from sample_architecture")
        if isinstance(samples, (str, bytes, Mapping)) or not isinstance(samples, Sequence) or not all(
            isinstance(sample, Architecture) for sample in samples
        ):
            raise PluginError(f"{self._implementers('sample_architecture')}: sample_architecture returned "
                              f"{_kind(samples)}, expected a list of nasplug.Architecture")
        return list(samples)

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
        return {str(key): value for key, value in converted.items() if value is not None}

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

    # ------------------------------------------------------------------ faults

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
        kind, _, name = impl.plugin_name.rpartition(":")
        provider = self.providers.get(impl.plugin_name, Provider(name, "unknown", ""))
        return describe(attrs.evolve(provider, plugin=name), kind or "plugin")

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


def guard_plugin(where: str, hook: str, call: Callable[[], Any]) -> Any:
    """``call()``, any exception of third-party code becoming a PluginError naming ``where`` and ``hook``."""
    try:
        return call()
    except NasplugError:
        raise
    except Exception as exc:  # third-party code
        raise PluginError(f"{where} failed in {hook}: {type(exc).__name__}: {exc}") from exc


def _code(function: Any) -> Any:
    return getattr(getattr(function, "__func__", function), "__code__", None)


def _kind(value: Any) -> str:
    text = repr(value)
    return f"a {type(value).__name__} ({text[:40] + '...' if len(text) > 40 else text})"


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
