"""The CPU depthwise path gives F.conv2d's output and gradients, and leaves evaluation and state alone."""

import pytest
import torch
from torch.nn import functional as F

from nasplug.spaces.darts_cell.depthwise import DepthwiseConv2d


@pytest.mark.parametrize("kernel,dilation", [(3, 1), (5, 1), (3, 2), (5, 2)])
@pytest.mark.parametrize("height,width", [(1, 2), (2, 2), (3, 4), (4, 4), (8, 7)])
def test_output_and_gradients_equal_conv2d(kernel: int, dilation: int, height: int, width: int) -> None:
    torch.manual_seed(kernel * 100 + dilation * 10 + height)
    module = DepthwiseConv2d(3, kernel, 1, dilation * (kernel - 1) // 2, dilation).double()
    x = torch.randn(2, 3, height, width, dtype=torch.double, requires_grad=True)
    grad = torch.randn(2, 3, height, width, dtype=torch.double)
    module(x).backward(grad)
    fast = module(x).detach(), x.grad.clone(), module.weight.grad.clone()
    x.grad = module.weight.grad = None
    reference = F.conv2d(x, module.weight, padding=module.padding, dilation=module.dilation, groups=3)
    reference.backward(grad)
    for got, expected in zip(fast, (reference.detach(), x.grad, module.weight.grad)):
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_is_an_nn_conv2d_for_state_and_evaluation() -> None:
    module = DepthwiseConv2d(4, 3, 2, 2, 2)
    plain = torch.nn.Conv2d(4, 4, 3, 2, 2, dilation=2, groups=4, bias=False)
    plain.load_state_dict(module.state_dict())
    x = torch.randn(1, 4, 6, 6)
    torch.testing.assert_close(module.eval()(x), plain(x))
    assert not module.same_size  # stride 2 keeps the plain path
