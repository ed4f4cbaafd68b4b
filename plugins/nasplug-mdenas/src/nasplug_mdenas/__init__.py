"""nasplug-mdenas: the MdeNAS controller (entry point ``mdenas`` in ``nasplug.controllers``)."""

from nasplug_mdenas.controller import MdeNAS

__all__ = ["MdeNAS"]
