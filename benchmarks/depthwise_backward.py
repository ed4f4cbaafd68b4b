"""The CPU depthwise path (nasplug/spaces/darts_cell/depthwise.py) against plain ``F.conv2d``.

Two measurements, both interleaved round by round and summarised by medians:

1. Per shape: forward + backward of every stride-1 depthwise convolution the
   supernet holds (found by running it once), plain against the fast path.
2. Per step: one feedback forward plus one weight step (forward, backward, SGD)
   of the supernet on a uniform single path, what a search step costs, with the
   fast path on and off (``DepthwiseConv2d.same_size`` toggled on the same
   modules). The same architectures and batches serve both.

The defaults are the quickstart's supernet (3 cells, C = 32, 8×8 grey digits,
batch 32)::

    python benchmarks/depthwise_backward.py --out depthwise.json
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import torch
from _common import (
    add_network_arguments,
    data_shape,
    environment,
    load_average,
    markdown_table,
    save,
    setup_torch,
    space_options,
    synthetic_batches,
    uniform_architecture,
)
from torch.nn import functional as F

from nasplug import Architecture
from nasplug import GatedChoice
from nasplug.plugin import load_plugins
from nasplug.search import SearchConfig
from nasplug.spaces.darts_cell.depthwise import DepthwiseConv2d

Shape = tuple[int, int, int, int, int]
"""(channels, height, width, kernel, dilation) of one depthwise convolution."""


def supernet_shapes(supernet: torch.nn.Module, mixture: Architecture, x: torch.Tensor) -> list[Shape]:
    """The distinct stride-1 depthwise shapes a forward of every op meets."""
    seen: set[Shape] = set()

    def record(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], _: Any) -> None:
        if isinstance(module, DepthwiseConv2d) and module.same_size:
            _, channels, height, width = inputs[0].shape
            seen.add((channels, height, width, module.kernel_size[0], module.dilation[0]))

    handle = torch.nn.modules.module.register_module_forward_hook(record)
    try:
        with torch.no_grad():
            supernet(x, mixture)
    finally:
        handle.remove()
    return sorted(seen)


def per_shape(shapes: list[Shape], batch: int, rounds: int, repeats: int) -> list[dict[str, Any]]:
    rows = []
    for shape in shapes:
        times = interleaved(shape_works(shape, batch), rounds, repeats)
        channels, height, width, kernel, dilation = shape
        rows.append({"channels": channels, "height": height, "width": width, "kernel": kernel,
                     "dilation": dilation, **{f"{k}_ms": v * 1e3 for k, v in times.items()},
                     "speed-up": times["plain"] / times["fast"]})
    return rows


def shape_works(shape: Shape, batch: int) -> dict[str, Any]:
    """Forward + backward of one shape, plain ``F.conv2d`` and the module, on the same tensors."""
    channels, height, width, kernel, dilation = shape
    module = DepthwiseConv2d(channels, kernel, 1, dilation * (kernel - 1) // 2, dilation)
    x = torch.randn(batch, channels, height, width, requires_grad=True)
    grad = torch.randn(batch, channels, height, width)

    def plain() -> None:
        F.conv2d(x, module.weight, padding=module.padding, dilation=module.dilation,
                 groups=channels).backward(grad)

    def fast() -> None:
        module(x).backward(grad)

    return {"plain": plain, "fast": fast}


def interleaved(works: dict[str, Any], rounds: int, repeats: int) -> dict[str, float]:
    """Median over rounds of each work's mean seconds over ``repeats`` calls; one of each per round."""
    for work in works.values():
        work()
    samples: dict[str, list[float]] = {name: [] for name in works}
    for _ in range(rounds):
        for name, work in works.items():
            started = time.perf_counter()
            for _ in range(repeats):
                work()
            samples[name].append((time.perf_counter() - started) / repeats)
    return {name: statistics.median(values) for name, values in samples.items()}


def per_step(space: Any, train: tuple, search: tuple, rounds: int, steps: int, seed: int) -> dict[str, float]:
    supernet = space.build_supernet()
    config = SearchConfig(space=space.name, controller="random")
    optimizer = torch.optim.SGD(supernet.parameters(), lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay)
    convolutions = [m for m in supernet.modules() if isinstance(m, DepthwiseConv2d) and m.same_size]
    generator = torch.Generator().manual_seed(seed)
    paths = [uniform_architecture(space, generator) for _ in range(steps)]
    supernet.train()

    def run(fast: bool) -> None:
        for module in convolutions:
            module.same_size = fast
        for arch in paths:
            with torch.no_grad():
                supernet(search[0], arch)
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(supernet(train[0], arch), train[1]).backward()
            torch.nn.utils.clip_grad_norm_(supernet.parameters(), config.grad_clip)
            optimizer.step()

    times = interleaved({"plain": lambda: run(False), "fast": lambda: run(True)}, rounds, 1)
    return {"plain_step_s": times["plain"] / steps, "fast_step_s": times["fast"] / steps,
            "speed-up": times["plain"] / times["fast"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_network_arguments(parser)
    parser.set_defaults(layers=3, channels=32, input_size=8, in_channels=1)
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument("--repeats", type=int, default=10, help="calls per round and shape (default 10)")
    parser.add_argument("--steps", type=int, default=8, help="search steps per round (default 8)")
    args = parser.parse_args()
    setup_torch(args.threads, args.seed)
    space = load_plugins().build_space(args.space, data_shape(args), space_options(args))
    train, search = synthetic_batches(space.data, args.batch_size, args.seed, torch.device("cpu"))
    mixture = Architecture({d.key: tuple(GatedChoice(i, 1.0 / len(d)) for i in range(len(d)))
                            for d in space.decisions()})
    started_load = load_average()
    shapes = per_shape(supernet_shapes(space.build_supernet(), mixture, train[0]), args.batch_size,
                       args.rounds, args.repeats)
    step = per_step(space, train, search, args.rounds, args.steps, args.seed)
    print(markdown_table(
        ["C", "map", "kernel", "dilation", "plain ms", "fast ms", "speed-up"],
        [[r["channels"], f"{r['height']}×{r['width']}", r["kernel"], r["dilation"], f"{r['plain_ms']:.2f}",
          f"{r['fast_ms']:.2f}", f"{r['speed-up']:.2f}×"] for r in shapes],
    ))
    print(f"\nsearch step (feedback forward + weight step, uniform paths): plain {step['plain_step_s']:.3f} s, "
          f"fast {step['fast_step_s']:.3f} s, speed-up {step['speed-up']:.2f}×")
    save(args.out, {"arguments": {k: str(v) for k, v in vars(args).items()}, "environment":
                    environment(torch.device("cpu")), "load_average": [started_load, load_average()],
                    "shapes": shapes, "step": step})


if __name__ == "__main__":
    main()
