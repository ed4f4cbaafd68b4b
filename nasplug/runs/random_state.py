"""The global random state a checkpoint carries, so a resumed run draws what the uninterrupted one would."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch


def capture_random_state(device: torch.device) -> dict[str, Any]:
    """torch's CPU generator state, and the device's where it is a GPU."""
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_random_state(state: Mapping[str, Any], device: torch.device) -> None:
    """Set the generators from :func:`capture_random_state`'s record (a GPU's only when both have one)."""
    torch.set_rng_state(state["torch"])
    if "cuda" in state and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)
