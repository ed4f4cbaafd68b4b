"""The controller of a run: an installed one by name, or (from the Python API) a class or an instance.

A run's ``config.json`` names its controller. A class is named by the entry point that loads it where one is
installed (so ``nasplug run --resume`` finds it again), otherwise as ``module:QualifiedName``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Union

from nasplug.core.controller import Controller
from nasplug.core.errors import NasplugError
from nasplug.core.options import resolve_options
from nasplug.plugin import Hooks, Provider, describe, guard_plugin
from nasplug.core.space import DataShape, SearchSpace

if TYPE_CHECKING:
    from nasplug.search.engine import SearchConfig

ControllerLike = Union[str, type[Controller], Controller]
"""What the Python API accepts as a controller: an installed name, a Controller subclass or an instance."""


class ControllerChoiceError(NasplugError, TypeError):
    """The given controller is not a name, a Controller subclass or an instance, or does not fit the run."""


def controller_name(controller: ControllerLike, hooks: Hooks) -> str:
    """The name a run records for ``controller``: its installed name in ``hooks`` where it has one."""
    if isinstance(controller, str):
        return controller
    cls = controller_class(controller)
    for name, entry in hooks.controllers().items():
        try:
            if entry.load() is cls:
                return name
        except NasplugError:  # a broken plugin cannot be this class
            continue
    return f"{cls.__module__}:{cls.__qualname__}"


def controller_class(controller: type[Controller] | Controller) -> type[Controller]:
    """The class of a Controller subclass or instance; anything else is a one-line error."""
    cls = type(controller) if isinstance(controller, Controller) else controller
    if not (isinstance(cls, type) and issubclass(cls, Controller)):
        raise ControllerChoiceError(f"a controller must be a name, a nasplug.Controller subclass or an "
                                    f"instance of one, not {controller!r}")
    return cls


def build_space_and_controller(
    config: SearchConfig, hooks: Hooks, data: DataShape, given: type[Controller] | Controller | None = None
) -> tuple[SearchSpace, Controller, Provider]:
    """The run's space, controller instance and the provider that names the controller in errors.

    With no ``given`` the controller is the installed one ``config.controller`` names, and with a class
    that class, each built for the space with ``config.controller_options`` and the run's seed (an
    exception in its ``__init__`` is a PluginError naming it). An instance is used as it is, with the
    space it was built for, which must be ``config.space`` for ``data``.
    """
    if isinstance(given, Controller):
        space = given.space
        if getattr(space, "name", None) != config.space or getattr(space, "data", None) != data:
            raise ControllerChoiceError(
                f"the controller instance was built for space {getattr(space, 'name', space)!r} on "
                f"{getattr(space, 'data', None)}, but the run searches {config.space!r} on {data}"
            )
        return space, given, _own_provider(config.controller, type(given))
    space = hooks.build_space(config.space, data, config.space_options)
    if given is None:
        entry = hooks.controller_entry(config.controller)
        cls, provider = entry.load(), entry.provider
    else:
        cls = controller_class(given)
        provider = _own_provider(config.controller, cls)
    options = resolve_options(cls.options, config.controller_options, f"controller {config.controller!r}")
    controller = guard_plugin(describe(provider, "controller"), "__init__", lambda: cls(space, options, config.seed))
    return space, controller, provider


def _own_provider(name: str, cls: type[Controller]) -> Provider:
    """A controller passed as a class or instance: named by its top-level package, no version."""
    return Provider(name, cls.__module__.partition(".")[0], "")
