"""How the plugin layer names someone else's code when it fails: PluginError, Provider and the clash rule.

Everything that can go wrong in a plugin (import, registration, a hook call, a name
two plugins claim) becomes a :class:`PluginError` whose one-line message names the
plugin and the distribution it came from, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

import attrs

from nasplug.core.errors import NasplugError


class PluginError(NasplugError, RuntimeError):
    """A plugin is missing, broken, unknown or claimed twice; the message is meant for the user as is."""


@attrs.frozen
class Provider:
    """Where something came from: plugin (or entry-point) name, distribution and its version."""

    plugin: str
    distribution: str
    version: str


def describe(provider: Provider, kind: str) -> str:
    """``plugin 'name' (distribution version)``: how every message names a plugin."""
    return f"{kind} {provider.plugin!r} ({provider.distribution} {provider.version})".replace(" )", ")")


def guard_plugin(where: str, hook: str, call: Callable[[], Any]) -> Any:
    """``call()``, any exception of third-party code becoming a PluginError naming ``where`` and ``hook``."""
    try:
        return call()
    except NasplugError:  # already a message meant for the user
        raise
    except Exception as exc:  # third-party code: name who failed, never a traceback
        raise PluginError(f"{where} failed in {hook}: {type(exc).__name__}: {exc}") from exc


def unknown_name(kind: str, name: str, available: Iterable[str]) -> PluginError:
    """The error for a name nothing provides, listing what is there (as timm's registry does)."""
    listed = ", ".join(sorted(available)) or "none installed"
    return PluginError(f"unknown {kind} {name!r}; available: {listed}")


class Claim(Protocol):
    """What the clash rule needs of an entry: the name it claims and who claims it."""

    @property
    def name(self) -> str: ...

    @property
    def provider(self) -> Provider: ...


Claimed = TypeVar("Claimed", bound=Claim)


def one_per_name(claims: Iterable[Claimed], kind: str) -> dict[str, Claimed]:
    """The claims by name; a name that several providers claim keeps its first claim, marked with a conflict.

    The one clash rule of every group (spaces, datasets, plugin modules, controllers, recipes,
    loggers): the name is still listed, with ``conflict`` set, and using it raises that message,
    naming every claimant. Without it a name would silently mean whichever plugin came last.
    """
    by_name: dict[str, list[Claimed]] = {}
    for claim in claims:
        by_name.setdefault(claim.name, []).append(claim)
    chosen = {}
    for name, listed in by_name.items():
        chosen[name] = listed[0]
        if len(listed) > 1:
            chosen[name] = attrs.evolve(listed[0], conflict=clash(kind, name, [c.provider for c in listed]))
    return chosen


def clash(kind: str, name: str, claimants: Sequence[Provider]) -> str:
    """The message of a name several plugins claim."""
    named = ", ".join(describe(provider, "plugin") for provider in claimants)
    return f"{kind} {name!r} is claimed by several plugins: {named}; uninstall all but one"
