"""The root of every error meant for the user as is: the CLI prints its message, no traceback."""


class NasplugError(Exception):
    """A problem with the user's input, files or installed plugins, explained in one line."""
