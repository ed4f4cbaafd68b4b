"""The errors meant for the user as is (the CLI prints their message, no traceback), and the ones a plugin raises."""


class NasplugError(Exception):
    """A problem with the user's input, files or installed plugins, explained in one line."""


class CheckpointError(NasplugError, RuntimeError):
    """A checkpoint is missing, truncated or not one of ours, or a state in it does not fit.

    Controllers raise it from ``load_state_dict`` when a saved state does not match them; the
    engine adds the checkpoint's path.
    """
