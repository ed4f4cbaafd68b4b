"""nasplug-parsec: the PARSEC controller (entry point ``parsec`` in ``nasplug.controllers``)."""

from nasplug_parsec.controller import PARSEC

__all__ = ["PARSEC"]
