"""The pluggy markers of project ``nasplug``, created once: specs mark the contract, impls a plugin's code.

``nasplug.hookimpl`` is this ``hookimpl``; built-in plugins import it from here so that
the lower layers never import the package root.
"""

import pluggy

PROJECT = "nasplug"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
