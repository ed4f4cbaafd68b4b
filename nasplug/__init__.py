"""nasplug: plugin-extensible, distribution-learning neural architecture search.

A plugin imports what it needs from here, and only from here: ``hookimpl`` to mark hook
implementations, the data model, the base classes of controllers and spaces, and the errors a plugin
raises. docs/architecture.md maps the packages behind it.
"""

from nasplug.core.startup import interrupted_while_starting

try:  # importing torch takes the first seconds of every command
    from nasplug.core.architecture import (
        Architecture,
        ArchitectureError,
        Decision,
        Feedback,
        GatedChoice,
        PendingValues,
        Step,
        entropy,
        feedback_values,
        host_floats,
    )
    from nasplug.core.controller import Controller, TransferError
    from nasplug.core.cost import CostError, CostModel, genotype_of
    from nasplug.core.errors import CheckpointError, NasplugError
    from nasplug.core.markers import hookimpl
    from nasplug.core.options import Option, OptionError, resolve_options
    from nasplug.core.space import DataShape, Genotype, SearchSpace
except KeyboardInterrupt:
    interrupted_while_starting()
    raise

__all__ = [
    "Architecture",
    "ArchitectureError",
    "CheckpointError",
    "Controller",
    "CostError",
    "CostModel",
    "DataShape",
    "Decision",
    "Feedback",
    "GatedChoice",
    "Genotype",
    "NasplugError",
    "Option",
    "OptionError",
    "PendingValues",
    "SearchSpace",
    "Step",
    "TransferError",
    "entropy",
    "feedback_values",
    "genotype_of",
    "hookimpl",
    "host_floats",
    "resolve_options",
]
