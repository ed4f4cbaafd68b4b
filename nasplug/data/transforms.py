"""Cutout (DeVries & Taylor 2017), the regulariser of the DARTS evaluation protocol (length 16)."""

from __future__ import annotations

import attrs
import torch


@attrs.frozen
class Cutout:
    """Zero a ``length×length`` square centred on a uniformly random pixel of a ``C×H×W`` tensor.

    As in the paper, the centre may lie near the border and the square is then
    clipped, so less than ``length²`` pixels are erased. It runs after
    normalisation (as in DARTS), so erased pixels take the dataset mean. The
    centre comes from torch's global generator, which the loader seeds per worker.
    """

    length: int = attrs.field(validator=[attrs.validators.instance_of(int), attrs.validators.gt(0)])

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        height, width = image.shape[-2:]
        centre_y = int(torch.randint(height, ()))
        centre_x = int(torch.randint(width, ()))
        top, left = centre_y - self.length // 2, centre_x - self.length // 2
        erased = image.clone()
        # slicing clips the square at the far border; max() clips it at the near one
        erased[..., max(top, 0) : top + self.length, max(left, 0) : left + self.length] = 0
        return erased
