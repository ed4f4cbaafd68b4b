"""``python -m nasplug`` (and ``torchrun -m nasplug``) runs the command line."""

from nasplug.core.startup import interrupted_while_starting

try:  # the command line's own imports: Ctrl-C here is one line too (nasplug.core.startup)
    from nasplug.cli import main
except KeyboardInterrupt:
    interrupted_while_starting()
    raise

main()
