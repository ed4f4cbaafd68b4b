"""The plugin layer: what a run's plugin manager is made of.

* :mod:`~nasplug.plugin.hookspecs`: the hooks, nasplug's contract with plugins;
* :mod:`~nasplug.plugin.discovery`: the four entry-point groups and the built-ins, found by one function;
* :mod:`~nasplug.plugin.errors`: PluginError, Provider and the one rule for a name two plugins claim;
* :mod:`~nasplug.plugin.manager`: :func:`load_plugins` and :class:`Hooks`, the run's registry and typed calls.
"""

from nasplug.plugin.discovery import Discovered, RecipeEntry
from nasplug.plugin.errors import PluginError, Provider, describe, guard_plugin
from nasplug.plugin.manager import CostModelEntry, DatasetEntry, Hooks, SpaceEntry, load_plugins

__all__ = [
    "CostModelEntry",
    "DatasetEntry",
    "Discovered",
    "Hooks",
    "PluginError",
    "Provider",
    "RecipeEntry",
    "SpaceEntry",
    "describe",
    "guard_plugin",
    "load_plugins",
]
