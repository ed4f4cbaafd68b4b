"""EoiNAS for nasplug: the controller of "Exploiting Operation Importance for
Differentiable Neural Architecture Search" (Xie, Zhou, Kung) as a plugin.

Install it and run ``nasplug run --controller eoinas``; the class is found
through the ``nasplug.controllers`` entry point ``eoinas``.
"""

from nasplug_eoinas.controller import EoiNAS

__all__ = ["EoiNAS"]
