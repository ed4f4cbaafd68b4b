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

from nasplug.core.space import SearchSpace


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


def normalised_entropy(records: Sequence[Mapping[str, Any]]) -> list[float]:
    """Each history record's entropy over the uniform maximum of the last record's distribution (1 = uniform;
    0 where that maximum is 0: nothing to choose)."""
    ceiling = uniform_entropy(records[-1]["distribution"])
    return [record["entropy"] / ceiling if ceiling else 0.0 for record in records]
