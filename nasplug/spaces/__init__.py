"""The built-in search spaces, registered by the core as a plugin module."""

from __future__ import annotations

from collections.abc import Mapping

from nasplug.core.markers import hookimpl
from nasplug.core.space import SearchSpace
from nasplug.spaces.darts_cell import DartsCellSpace
from nasplug.spaces.proxyless import ProxylessSpace


@hookimpl
def list_search_spaces() -> Mapping[str, type[SearchSpace]]:
    return {DartsCellSpace.name: DartsCellSpace, ProxylessSpace.name: ProxylessSpace}
