"""The DARTS cell search space (``darts-cell``): ops, supernet, evaluation network, genotypes."""

from nasplug.spaces.darts_cell.genotypes import DartsGenotype
from nasplug.spaces.darts_cell.space import DartsCellSpace

__all__ = ["DartsCellSpace", "DartsGenotype"]
