"""nasplug-nb201: the NAS-Bench-201 space (entry point ``nb201`` in the ``nasplug`` group) and its table."""

from __future__ import annotations

from collections.abc import Mapping

from nasplug import CostModel, SearchSpace, hookimpl
from nasplug_nb201.cost import device_cost_models
from nasplug_nb201.genotype import Nb201Genotype
from nasplug_nb201.space import Nb201Space

__all__ = ["Nb201Genotype", "Nb201Space"]


@hookimpl
def list_search_spaces() -> Mapping[str, type[SearchSpace]]:
    return {Nb201Space.name: Nb201Space}


@hookimpl
def list_cost_models() -> Mapping[str, type[CostModel]]:
    return device_cost_models()
