"""``python -m nasplug`` (and ``torchrun -m nasplug``) runs the command line."""

from nasplug.cli import main

main()
