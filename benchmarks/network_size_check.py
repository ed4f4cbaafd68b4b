"""What refusing an oversized network costs at every start: the size check's build time against a plain build.

Three ways to build the default darts-cell supernet (cifar10 shape) and a DARTS_V2 network are interleaved,
one of each per round, and summarised by their median:

* plain: ``space.build_supernet()`` with no check;
* meta: the check before issue-28's review, a build on the meta device to size it, then the real build;
* counted: nasplug.runs.network_size.build_within_memory, one real build under a byte counter (the meta
  build only for a network past QUICK_BYTES).

    python benchmarks/network_size_check.py --threads 1 --rounds 7
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from nasplug.networks.genotypes import load_genotype
from nasplug.plugin import load_plugins
from nasplug.runs.network_size import build_within_memory, network_bytes


def seconds(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    hooks = load_plugins()
    space = hooks.build_space("darts-cell", hooks.dataset_shape("cifar10"), {})
    genotype = load_genotype("DARTS_V2", hooks, "darts-cell")[1]
    builds: dict[str, Callable[[], nn.Module]] = {
        "darts-cell supernet": space.build_supernet,
        "DARTS_V2 network (20 cells, 36 channels)": lambda: space.build_network(genotype, {}),
    }
    cpu = torch.device("cpu")
    ways: dict[str, Callable[[Callable[[], nn.Module]], object]] = {
        "plain": lambda build: build(),
        "meta": lambda build: (network_bytes(build), build()),
        "counted": lambda build: build_within_memory(build, "network", cpu, ""),
    }
    for name, build in builds.items():
        times: dict[str, list[float]] = {way: [] for way in ways}
        for _ in range(args.rounds):
            for way, run in ways.items():
                times[way].append(seconds(lambda: run(build)))
        medians = {way: statistics.median(values) for way, values in times.items()}
        print(f"{name}: " + ", ".join(f"{way} {value:.3f} s ({value / medians['plain']:.2f}x plain)"
                                      for way, value in medians.items()))


if __name__ == "__main__":
    main()
