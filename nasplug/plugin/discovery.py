"""Finding what is installed: every entry-point group read by one function, nasplug's built-ins alongside.

Four groups extend nasplug: plugin modules (``nasplug``), controller classes
(``nasplug.controllers``), recipe packages (``nasplug.recipes``) and logger classes
(``nasplug.loggers``). Each is read by :func:`discover`, the built-ins of
:data:`BUILTINS` listed as claims of the ``nasplug`` distribution, and every name is
settled by the one clash rule of :func:`~nasplug.plugin.errors.one_per_name`.
Nothing here imports a plugin until :meth:`Discovered.load` is called.
"""

from __future__ import annotations

from importlib import metadata, resources
from typing import TYPE_CHECKING, Any

import attrs

from nasplug.core.controller import Controller
from nasplug.core.markers import PROJECT
from nasplug.plugin.errors import PluginError, Provider, describe, one_per_name

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

PLUGIN_GROUP = "nasplug"
CONTROLLER_GROUP = "nasplug.controllers"
RECIPE_GROUP = "nasplug.recipes"
LOGGER_GROUP = "nasplug.loggers"

KINDS = {PLUGIN_GROUP: "plugin", CONTROLLER_GROUP: "controller", RECIPE_GROUP: "recipes",
         LOGGER_GROUP: "logger"}
"""How messages call a member of each group."""

BUILTINS: dict[str, dict[str, str]] = {
    PLUGIN_GROUP: {"nasplug.spaces": "nasplug.spaces", "nasplug.data.builtin": "nasplug.data.builtin",
                   "nasplug.networks.cost_models": "nasplug.networks.cost_models"},
    CONTROLLER_GROUP: {"random": "nasplug.controllers.random:RandomController"},
    RECIPE_GROUP: {"nasplug": "nasplug.recipes"},
    LOGGER_GROUP: {"csv": "nasplug.loggers.csv:CsvLogger",
                   "tensorboard": "nasplug.loggers.tensorboard:TensorBoardLogger"},
}
"""Each group's built-ins, as entry points would name them: imported on use, like any other claim."""


@attrs.frozen
class Discovered:
    """One member of a group: the name it claims, what to import and who provides it."""

    name: str
    group: str
    entry_point: metadata.EntryPoint = attrs.field(eq=False)
    provider: Provider
    conflict: str | None = None
    """Set when several providers claim this name: loading it is refused with this message."""

    @property
    def kind(self) -> str:
        return KINDS[self.group]

    def load(self) -> Any:
        """Import the object; a conflict, an import failure or a controller of the wrong type: PluginError."""
        if self.conflict is not None:
            raise PluginError(self.conflict)
        where = describe(self.provider, self.kind)
        try:
            loaded = self.entry_point.load()
        except Exception as exc:  # any import-time failure of third-party code
            raise PluginError(f"{where} failed to import: {type(exc).__name__}: {exc}") from exc
        is_controller = isinstance(loaded, type) and issubclass(loaded, Controller)
        if self.group == CONTROLLER_GROUP and not is_controller:
            raise PluginError(f"{where}: {self.entry_point.value} is not a nasplug.Controller subclass")
        return loaded


@attrs.frozen
class RecipeEntry:
    """A named recipe: a ``*.toml`` file of a recipe package, and the distribution shipping it."""

    name: str
    path: Traversable | None = attrs.field(eq=False)
    """None for a recipe package that failed to import (its ``conflict`` says why)."""
    provider: Provider
    conflict: str | None = None


def discover(group: str, *, installed: bool = True) -> list[Discovered]:
    """Every member of ``group``: its installed entry points (none if not ``installed``), then the built-ins.

    Installed ones come first so that the built-ins register last, as pytest and tox
    order them. A distribution listed twice on the path counts once.
    """
    points = _installed(group) if installed else []
    found = [Discovered(point.name, group, point, _provider(point)) for point in points]
    version = _version(PROJECT)
    for name, value in BUILTINS[group].items():
        point = metadata.EntryPoint(name, value, group)
        found.append(Discovered(name, group, point, Provider(name, PROJECT, version)))
    return found


def discover_named(group: str, *, installed: bool = True) -> dict[str, Discovered]:
    """The members of ``group`` by the name each claims, under the one clash rule."""
    return one_per_name(discover(group, installed=installed), KINDS[group])


def discover_recipes(*, installed: bool = True) -> dict[str, RecipeEntry]:
    """Every named recipe, by name: the ``*.toml`` files of each recipe package, under the one clash rule.

    A recipe package's entry-point name only labels it; the names a user types are its file names. A
    package that fails to import is listed under its entry-point name with the failure as its conflict:
    one broken distribution never hides the others' recipes.
    """
    files = []
    for package in discover(RECIPE_GROUP, installed=installed):
        try:
            folder = _recipe_folder(package)
        except PluginError as exc:
            files.append(RecipeEntry(package.name, None, package.provider, conflict=str(exc)))
            continue
        for item in sorted(folder.iterdir(), key=lambda item: item.name):
            if item.name.endswith(".toml"):
                files.append(RecipeEntry(item.name[: -len(".toml")], item, package.provider))
    return one_per_name(files, "recipe")


def _recipe_folder(package: Discovered) -> Traversable:
    module = package.load()
    try:
        return resources.files(module)
    except TypeError as exc:  # a module, not a package
        raise PluginError(f"{describe(package.provider, package.kind)}: {package.entry_point.value!r} is not "
                          f"a package ({exc})") from exc


def _installed(group: str) -> list[metadata.EntryPoint]:
    seen = set()
    points = []
    for point in metadata.entry_points(group=group):
        if (point.name, point.value) not in seen:
            seen.add((point.name, point.value))
            points.append(point)
    return points


def _provider(point: metadata.EntryPoint) -> Provider:
    if point.dist is None:
        return Provider(point.name, "unknown", "")
    return Provider(point.name, point.dist.metadata["Name"], point.dist.version)


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"
