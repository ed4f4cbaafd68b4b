"""What a ``history.jsonl`` record says about the distribution: choice names and the entropy's ceiling.

A record's ``distribution`` holds one probability per choice per decision key;
``choices`` names those choices (so a history reads without the space), and
``entropy_max`` is the entropy of the uniform distribution over them, the
value ``entropy`` starts from and is normalised by.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from nasplug.core.schema import SchemaError
from nasplug.core.space import SearchSpace

HISTORY_FIELDS: dict[str, tuple[type, ...]] = {
    "epoch": (int,),
    "entropy": (int, float, type(None)),
    "distribution": (dict,),
    "genotype": (dict,),
}
"""What every ``history.jsonl`` record holds, with its types (a record is otherwise plain, finite JSON)."""


def choice_names(space: SearchSpace, keys: Sequence[str]) -> dict[str, list[str]]:
    """The choice names of every decision key, looked up in each factorisation the space offers."""
    by_key = {}
    for factorisation in space.factorisations:
        for decision in space.decisions(factorisation):
            by_key.setdefault(decision.key, list(decision.choices))
    return {key: by_key[key] for key in keys if key in by_key}


def uniform_entropy(distribution: Mapping[str, Sequence[float]]) -> float:
    """Σ_decisions log(number of choices): the largest entropy a distribution of this shape can have."""
    return sum(math.log(len(probs)) for probs in distribution.values() if len(probs) > 0)


def check_history_record(record: Mapping[str, Any], epoch: int, where: str) -> None:
    """Raise SchemaError naming ``where`` unless ``record`` is epoch ``epoch``'s history record: every field
    of :data:`HISTORY_FIELDS` of its type, and one list of probabilities per decision key."""
    for key, kinds in HISTORY_FIELDS.items():
        if key not in record:
            raise SchemaError(f"{where}: the record has no {key!r}")
        value = record[key]
        if not isinstance(value, kinds) or isinstance(value, bool):
            raise SchemaError(f"{where}: {key!r} is {value!r}, not {' or '.join(k.__name__ for k in kinds)}")
    if record["epoch"] != epoch:
        raise SchemaError(f"{where}: the record of epoch {epoch} says epoch {record['epoch']}")
    for key, probabilities in record["distribution"].items():
        if not isinstance(probabilities, list) or not all(
                isinstance(p, (int, float)) and not isinstance(p, bool) and 0 <= p <= 1 for p in probabilities):
            raise SchemaError(f"{where}: distribution[{key!r}] is not a list of probabilities")


def normalised_entropy(records: Sequence[Mapping[str, Any]]) -> list[float]:
    """Each history record's entropy over the uniform maximum of the last record's distribution (1 = uniform;
    0 where that maximum is 0: nothing to choose)."""
    ceiling = uniform_entropy(records[-1]["distribution"])
    return [record["entropy"] / ceiling if ceiling else 0.0 for record in records]
