"""The controller of a run: an installed one by name, or (from the Python API) a class or an instance.

A run's ``config.json`` names its controller. A class is named by the entry point that loads it where one is
installed (so ``nasplug run --resume`` finds it again), otherwise as ``module:QualifiedName``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Union

from nasplug.controller import Controller
from nasplug.errors import NasplugError
from nasplug.options import resolve_options
from nasplug.plugins import Hooks, available_controllers, controller_entry
from nasplug.space import DataShape, SearchSpace

if TYPE_CHECKING:
    from nasplug.search import SearchConfig

ControllerLike = Union[str, type[Controller], Controller]
"""What the Python API accepts as a controller: an installed name, a Controller subclass or an instance."""


class ControllerChoiceError(NasplugError, TypeError):
    """The given controller is not a name, a Controller subclass or an instance, or does not fit the run."""


def controller_name(controller: ControllerLike) -> str:
    """The name a run records for ``controller``."""
    if isinstance(controller, str):
        return controller
    cls = controller_class(controller)
    for name, entry in available_controllers().items():
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
) -> tuple[SearchSpace, Controller]:
    """The run's space and controller instance.

    With no ``given`` the controller is the installed one ``config.controller`` names, and with a class
    that class, each built for the space with ``config.controller_options`` and the run's seed. An
    instance is used as it is, with the space it was built for, which must be ``config.space`` for
    ``data``.
    """
    if isinstance(given, Controller):
        space = given.space
        if getattr(space, "name", None) != config.space or getattr(space, "data", None) != data:
            raise ControllerChoiceError(
                f"the controller instance was built for space {getattr(space, 'name', space)!r} on "
                f"{getattr(space, 'data', None)}, but the run searches {config.space!r} on {data}"
            )
        return space, given
    space = hooks.build_space(config.space, data, config.space_options)
    cls = controller_entry(config.controller).load() if given is None else controller_class(given)
    options = resolve_options(cls.options, config.controller_options, f"controller {config.controller!r}")
    return space, cls(space, options, config.seed)
