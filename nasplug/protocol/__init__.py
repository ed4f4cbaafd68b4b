"""Protocols over several runs: the papers' searches and evaluation seeds as one resumable command.

:mod:`nasplug.protocol.seeds` runs N searches from a recipe, picks by a stated criterion, trains
the picked genotypes with M seeds and reports mean ± std (``nasplug protocol``,
:mod:`nasplug.protocol.command`). It stands above :mod:`nasplug.api`, whose functions run each member.
"""

from nasplug.protocol.seeds import PICKS, ProtocolError, ProtocolPlan, ProtocolResult, run_protocol

__all__ = ["PICKS", "ProtocolError", "ProtocolPlan", "ProtocolResult", "run_protocol"]
