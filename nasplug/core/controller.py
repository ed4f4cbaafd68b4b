"""The base class of controllers: options, the seeded generator and checkpoint state.

A controller is one class whose methods are hook implementations (marked with
``@nasplug.hookimpl``) and one entry-point line in the ``nasplug.controllers``
group. The engine creates one instance per run with its parsed options and the
run's seed and registers it with the run's plugin manager.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch

from nasplug.core.errors import NasplugError
from nasplug.core.options import Option
from nasplug.core.space import SearchSpace


class Controller:
    """Subclass this, declare ``options``, implement the controller hooks.

    ``self.generator`` is the only source of randomness a controller should use:
    it is seeded from the run's seed and saved in every checkpoint, so a resumed
    search samples exactly what the uninterrupted one would have.
    Subclasses that keep state extend :meth:`state_dict` and
    :meth:`load_state_dict` (plain values and tensors only: checkpoints are
    loaded with ``weights_only=True``).
    """

    description: ClassVar[str] = ""
    options: ClassVar[Mapping[str, Option]] = {}
    prunes: ClassVar[bool] = False
    """True where a choice whose reported probability falls to 0 is removed for good (EoiNAS's pruning):
    ``nasplug plot`` marks those falls. Leave False where a probability may touch 0 and come back
    (MdeNAS clips its update at 0)."""

    learns_distribution: ClassVar[bool] = True
    """False where the reported distribution never moves by design (the random baseline samples
    uniformly throughout): the end-of-search warning that it "has not moved" is then skipped."""

    def __init__(self, space: SearchSpace, options: Mapping[str, Any], seed: int) -> None:
        """``options`` as parsed by the engine; an option left out (a controller built by hand) takes its default."""
        self.space = space
        self.config = {**{name: option.default for name, option in self.options.items()}, **options}
        self.generator = torch.Generator().manual_seed(seed)

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: here the generator's state."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.generator.set_state(state["generator"])

    def transfer_state(self, state: Mapping[str, Any]) -> None:
        """Start from the distribution an earlier run learnt (``nasplug run --init-from RUN_DIR``).

        ``state`` is that run's final :meth:`state_dict`. Controllers that support
        transfer (PARSEC §4.2) override this to take the distribution only.
        """
        raise TransferError(f"controller {type(self).__name__} does not support --init-from")


class TransferError(NasplugError, RuntimeError):
    """A controller cannot start from an earlier run's state."""
