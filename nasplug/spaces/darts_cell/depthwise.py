"""A depthwise convolution whose CPU backward avoids oneDNN's slow paths.

On the CPU, oneDNN's backward of a depthwise convolution costs, at the
supernet's small maps, up to 40 times its forward: the input gradient of a
*dilated* kernel and the weight gradient of a 5×5 kernel are the slow parts
(``benchmarks/depthwise_backward.py``, docs/performance.md). Three exact
identities avoid them:

- Taps whose offset from the centre is at least the map's size only ever meet
  padding. Dropping them gives the same output, and the same gradient for the
  kept taps (the dropped taps' gradient is exactly zero): a 5×5 kernel on a
  2×2 map is a 3×3 one, and a dilated kernel there a per-channel scale.
- For stride 1 and "same" padding, the input gradient is the forward
  convolution of the output gradient with the spatially flipped kernel; a
  dilated kernel's input gradient is computed so.
- An undilated 5×5 kernel's gradient is assembled from four overlapping 3×3
  ones, a size oneDNN handles well.

The results equal ``F.conv2d``'s up to the order of float sums (tested in
float64). Other devices, strides and evaluation mode use ``nn.Conv2d``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn import functional as F


def _kept(weight: torch.Tensor, padding: tuple[int, int], dilation: tuple[int, int],
          size: torch.Size) -> tuple[tuple[slice, ...], tuple[int, int]]:
    """The index of the taps whose offset can reach a map of ``size``, and the padding that keeps them centred."""
    spans, kept_padding = [], []
    for kernel, step, pad, length in zip(weight.shape[2:], dilation, padding, size):
        reaching = [tap for tap in range(kernel) if abs(tap * step - pad) < length]
        spans.append(slice(reaching[0], reaching[-1] + 1))
        kept_padding.append(pad - reaching[0] * step)
    return (slice(None), slice(None), *spans), (kept_padding[0], kept_padding[1])


def _backward(grad_output: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, padding: tuple[int, int],
              dilation: tuple[int, int], mask: list[bool]) -> tuple[torch.Tensor | None, ...]:
    return torch.ops.aten.convolution_backward(
        grad_output, x, weight, None, [1, 1], list(padding), list(dilation), False, [0, 0], x.shape[1], mask,
    )


def _input_grad(grad_output: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, padding: tuple[int, int],
                dilation: tuple[int, int]) -> torch.Tensor:
    """A dilated kernel's input gradient as the flipped kernel's forward (oneDNN's is 10–30× slower)."""
    if dilation == (1, 1):
        return _backward(grad_output, x, weight, padding, dilation, [True, False, False])[0]
    return F.conv2d(grad_output, weight.flip(2, 3), padding=padding, dilation=dilation, groups=x.shape[1])


def _weight_grad(grad_output: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, padding: tuple[int, int],
                 dilation: tuple[int, int]) -> torch.Tensor:
    """The kernel's gradient; an undilated 5×5 one from four overlapping 3×3 blocks (about 2× faster)."""
    if weight.shape[2:] != (5, 5) or dilation != (1, 1):
        return _backward(grad_output, x, weight, padding, dilation, [False, True, False])[1]
    padded = F.pad(x, (padding[1], padding[1], padding[0], padding[0]))
    height, width = x.shape[2:]
    block = weight[:, :, :3, :3]
    grad = torch.empty_like(weight)
    for row in (0, 2):
        for col in (0, 2):
            window = padded[:, :, row:row + height + 2, col:col + width + 2]
            grad[:, :, row:row + 3, col:col + 3] = _backward(grad_output, window, block, (0, 0), (1, 1),
                                                             [False, True, False])[1]
    return grad


class _SameDepthwise(torch.autograd.Function):
    """Stride-1, same-size depthwise convolution with the backward of the module docstring."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, padding: tuple[int, int],
                dilation: tuple[int, int]) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.geometry = (padding, dilation)
        return F.conv2d(x, weight, padding=padding, dilation=dilation, groups=x.shape[1])

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        padding, dilation = ctx.geometry
        grad_output = grad_output.contiguous()
        grad_x = _input_grad(grad_output, x, weight, padding, dilation) if ctx.needs_input_grad[0] else None
        grad_w = _weight_grad(grad_output, x, weight, padding, dilation) if ctx.needs_input_grad[1] else None
        return grad_x, grad_w, None, None


class DepthwiseConv2d(nn.Conv2d):
    """``nn.Conv2d(c, c, k, stride, padding, dilation, groups=c, bias=False)`` with the faster CPU backward.

    The parameters and state-dict keys are those of ``nn.Conv2d``; only a
    training-mode, stride-1, same-size forward on the CPU takes the other path
    (a search, and ``nasplug train``'s epochs); evaluation mode and export see a
    plain ``nn.Conv2d``.
    """

    def __init__(self, channels: int, kernel_size: int, stride: int, padding: int, dilation: int) -> None:
        super().__init__(channels, channels, kernel_size, stride, padding, dilation=dilation, groups=channels,
                         bias=False)
        self.same_size = stride == 1 and 2 * padding == dilation * (kernel_size - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Under autocast the backward would see bf16 gradients against a float32 kernel: plain path.
        if not (self.same_size and self.training and x.device.type == "cpu") or torch.is_autocast_enabled("cpu"):
            return super().forward(x)
        if all(pad < length for pad, length in zip(self.padding, x.shape[2:])):  # every tap reaches the map
            kept, padding = self.weight, self.padding
        else:  # a view: autograd scatters its gradient back into the full kernel
            taps, padding = _kept(self.weight, self.padding, self.dilation, x.shape[2:])
            kept = self.weight[taps]
        slow_backward = self.dilation != (1, 1) or kept.shape[2:] == (5, 5)
        if torch.is_grad_enabled() and slow_backward:
            return _SameDepthwise.apply(x, kept, padding, self.dilation)
        return F.conv2d(x, kept, padding=padding, dilation=self.dilation, groups=self.groups)
