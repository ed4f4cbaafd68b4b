"""Recipes: one run's settings as a TOML file, each value commented with its paper's section.

A recipe is read with the standard library's ``tomllib`` and checked here, before
anything runs: an unknown key or a value of the wrong type is a
:class:`RecipeError` naming the file, the key and the problem. Recipes come from
this package's ``*.toml`` files (the built-in ones), from the packages that
distributions list in the ``nasplug.recipes`` entry-point group (a plugin's
recipes), or from any file path; the run's ``Hooks.recipes()`` lists the named ones
(found by :mod:`nasplug.plugin.discovery`). docs/recipes.md describes the format.
"""

from __future__ import annotations

import math
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from nasplug.core.errors import NasplugError
from nasplug.core.options import Option, OptionError
from nasplug.core.schema import SchemaError, check_plain
from nasplug.runs.files import read_text_file

if TYPE_CHECKING:
    from nasplug.plugin import Hooks

COMMANDS = ("run", "train")
TABLES = {"run": ("space", "controller"), "train": ("network",)}
"""The option tables each kind of recipe may hold besides ``[settings]``."""


class RecipeError(NasplugError, ValueError):
    """A recipe is unknown, unreadable or holds an unknown key or a wrongly typed value."""


@attrs.frozen
class Recipe:
    """One parsed recipe: for ``nasplug run`` or ``nasplug train``, its settings and option tables.

    ``settings`` are fields of the command's configuration (SearchConfig or
    TrainConfig, see :func:`check_settings`); ``tables`` hold the space,
    controller or network options, checked against the declared options when the
    run is built (:func:`check_options`).
    """

    name: str
    source: str
    command: str
    description: str
    settings: Mapping[str, Any]
    tables: Mapping[str, Mapping[str, Any]]
    text: str

    def table(self, name: str) -> dict[str, Any]:
        """A copy of option table ``name`` (``space``, ``controller``, ``network``); empty if absent."""
        return dict(self.tables.get(name, {}))


def parse_recipe(text: str, source: str, name: str) -> Recipe:
    """Parse and check the top level of one recipe's TOML ``text``; ``source`` names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"{source}: not valid TOML ({exc})") from None
    command = data.get("command")
    if command not in COMMANDS:
        raise RecipeError(f"{source}: key 'command' must be one of {', '.join(COMMANDS)}, got {command!r}")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise RecipeError(f"{source}: key 'description' must be a string, got {description!r}")
    allowed = {"command", "description", "settings", *TABLES[command]}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise RecipeError(f"{source}: unknown key {unknown[0]!r}; a {command} recipe holds "
                          f"{', '.join(sorted(allowed))}")
    tables = {}
    for key in ("settings", *TABLES[command]):
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise RecipeError(f"{source}: key {key!r} must be a table ([{key}]), got {value!r}")
        tables[key] = value
    settings = tables.pop("settings")
    return Recipe(name, source, command, description, settings, tables, text)


def read_recipe_file(path: str | Path) -> Recipe:
    """The recipe in file ``path``, named after the file."""
    path = Path(path)
    return parse_recipe(read_text_file(path, RecipeError, "recipe"), str(path), path.stem)


def load_recipe(reference: str, hooks: Hooks) -> Recipe:
    """A recipe by name (``hooks.recipes()`` lists them) or by path to a ``.toml`` file."""
    if reference.endswith(".toml") or "/" in reference or "\\" in reference:
        return read_recipe_file(reference)
    recipes = hooks.recipes()
    if reference not in recipes:
        raise RecipeError(f"unknown recipe {reference!r}; available: {', '.join(sorted(recipes)) or 'none'} "
                          f"(or give the path of a .toml file)")
    entry = hooks.recipe_entry(reference)  # a name several distributions ship is refused, naming them
    return parse_recipe(read_text_file(entry.path, RecipeError, "recipe"), f"recipe {reference}", reference)


def recipe_for(reference: str, command: str, hooks: Hooks) -> Recipe:
    """:func:`load_recipe`, refusing a recipe written for the other command."""
    recipe = load_recipe(reference, hooks)
    if recipe.command != command:
        raise RecipeError(f"{recipe.source} is a recipe for `nasplug {recipe.command}`, not `nasplug {command}`")
    return recipe


def check_settings(recipe: Recipe, types: Mapping[str, Any],
                   bounds: Mapping[str, tuple[float, float]] | None = None) -> dict[str, Any]:
    """The recipe's ``[settings]``, each key one of ``types`` (name → type), of that type, finite and
    within its inclusive range in ``bounds`` (a configuration's ``BOUNDS``, nasplug.core.schema)."""
    for key, value in recipe.settings.items():
        if key not in types:
            raise RecipeError(f"{recipe.source}: [settings] unknown key {key!r}; accepted: "
                              f"{', '.join(sorted(types))}")
        if not matches_type(value, types[key]):
            raise RecipeError(f"{recipe.source}: [settings] key {key!r} expects {_type_name(types[key])}, "
                              f"got {value!r}")
        try:
            check_plain(value, f"{recipe.source}: [settings] {key}")
        except SchemaError as exc:
            raise RecipeError(str(exc)) from None
        low, high = (bounds or {}).get(key, (-math.inf, math.inf))
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not low <= value <= high:
            raise RecipeError(f"{recipe.source}: [settings] {key} = {value!r} lies outside {low:g} to {high:g}")
    return dict(recipe.settings)


def check_options(recipe: Recipe, table: str, declared: Mapping[str, Option], owner: str) -> dict[str, Any]:
    """The recipe's ``[table]`` options, each declared by ``owner`` and parsed to its type."""
    parsed = {}
    for key, value in recipe.table(table).items():
        if key not in declared:
            raise RecipeError(f"{recipe.source}: [{table}] unknown key {key!r}; {owner} accepts: "
                              f"{', '.join(sorted(declared)) or 'none'}")
        try:
            parsed[key] = declared[key].parse(key, value)
        except OptionError as exc:
            raise RecipeError(f"{recipe.source}: [{table}] {exc}") from None
    return parsed


def matches_type(value: Any, expected: Any) -> bool:
    """Whether a TOML value fits an attrs field type (``int``, ``float``, ``str | None``, ``dict[...]``)."""
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        return any(matches_type(value, arg) for arg in typing.get_args(expected))
    if expected is Any:
        return True
    if expected is type(None):
        return value is None
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, origin or expected)


def _type_name(expected: Any) -> str:
    return getattr(expected, "__name__", None) or str(expected).replace("typing.", "")


def field_types(cls: type, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """The resolved types of an attrs class's fields, by name."""
    attrs.resolve_types(cls)
    return {field.name: field.type for field in attrs.fields(cls) if field.name not in exclude}
