"""MdeNAS on the planted-optimum problem: how well the final p and the H^e share recover the planted ops.

One search per (epochs, seed) with the paper's rule; the same final controller
state is then derived again with ``derive=frequency`` (the rule changes only the
derivation, never the search). docs/planted-optimum.md explains the difference.

    python benchmarks/planted_derivation.py --epochs 10 20 30 40 --seeds 8
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from _common import markdown_table, setup_torch
from nasplug.runs.checkpoint import load_checkpoint
from nasplug.plugin import load_plugins
from nasplug.search import SearchConfig, run_search
from nasplug.runs.checkpoint import checkpoint_paths
from nasplug.testing.planted import (
    PlantedProblem,
    PlantedSpace,
    planted_data,
    planted_plugin,
    recover_fraction,
    space_options,
)
from nasplug_mdenas import MdeNAS

IMAGES = 4096
SIGNAL = 1.5
"""The problem and budget of tests/test_planted_optimum.py."""


def recoveries(epochs: int, seed: int, work: Path) -> tuple[float, float]:
    """(recovery by the final p, recovery by the H^e share) of one search."""
    problem = PlantedProblem(seed=seed, signal=SIGNAL)
    data = planted_data(problem, IMAGES)
    config = SearchConfig(space="planted", controller="mdenas", dataset="planted", seed=seed, epochs=epochs,
                          batch_size=64, lr=0.1, space_options=space_options(problem), eval_derived=False,
                          keep_checkpoints=1)
    result = run_search(config, work / f"{epochs}-{seed}", hooks=planted_plugin(load_plugins()), data=data)
    state = load_checkpoint(checkpoint_paths(result.run_dir)[-1])["controller"]
    space = PlantedSpace(data.shape, space_options(problem))
    rereader = MdeNAS(space, {"derive": "frequency"}, seed=seed)
    rereader.load_state_dict(state)
    return recover_fraction(result.genotype, problem), recover_fraction(rereader.derive_genotype(space), problem)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, nargs="+", default=[10, 20, 30, 40])
    parser.add_argument("--seeds", type=int, default=8, help="seeds 0 … N-1")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    setup_torch(args.threads, 0)
    rows = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        for epochs in args.epochs:
            pairs = [recoveries(epochs, seed, Path(folder)) for seed in range(args.seeds)]
            by_p, by_share = zip(*pairs)
            rows.append([epochs, " ".join(f"{v:.2f}" for v in by_p), f"{statistics.fmean(by_p):.2f}",
                         " ".join(f"{v:.2f}" for v in by_share), f"{statistics.fmean(by_share):.2f}"])
            print(rows[-1], flush=True)
    print(markdown_table(["epochs", "final p per seed", "final p", "H^e share per seed", "H^e share"], rows))
    print(f"{time.perf_counter() - started:.0f} s, torch threads {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
