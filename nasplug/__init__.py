"""nasplug: plugin-extensible, distribution-learning neural architecture search.

A plugin imports what it needs from here: ``hookimpl`` to mark hook
implementations, the data model, and the base classes of controllers and spaces.
"""

import pluggy

from nasplug.core.architecture import (
    Architecture,
    ArchitectureError,
    Decision,
    Feedback,
    Path,
    PendingValues,
    Step,
    entropy,
    feedback_values,
    host_floats,
)
from nasplug.core.controller import Controller
from nasplug.core.options import Option, OptionError
from nasplug.core.space import DataShape, Genotype, SearchSpace

hookimpl = pluggy.HookimplMarker("nasplug")

__all__ = [
    "Architecture",
    "ArchitectureError",
    "Controller",
    "DataShape",
    "Decision",
    "Feedback",
    "Genotype",
    "Option",
    "OptionError",
    "Path",
    "PendingValues",
    "SearchSpace",
    "Step",
    "entropy",
    "feedback_values",
    "hookimpl",
    "host_floats",
]
