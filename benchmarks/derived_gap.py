"""Why a DARTS-cell search's derived cell scores below its sampled paths: a finished run's weights, read back.

A single-path search on the DARTS cell space samples an op on all 14 edges of a
cell; the derived genotype keeps 2 inputs per node (8 edges), a kind of path the
supernet rarely trains on (only when ``none`` falls on just the right edges). With
the run's final supernet, on its search split (as ``derived_accuracy`` is
measured), this script scores:

- uniform single paths over all 14 edges (what the supernet trained on before
  its distribution moved);
- uniform genotypes (random scores through the space's own derivation rule);
- the same genotypes with each kept edge scaled by √(inputs·7/8 / 2), the ratio
  of a node's expected number of summed terms in training to its 2 in the genotype
  (tests whether the gap is the sums' scale);
- the same genotypes with every dropped edge given a uniform op again (tests
  whether it is the missing edges);
- the run's own derived genotypes of its last epochs, and its final one.

    python benchmarks/derived_gap.py runs/<run> [--architectures 16] [--last 20] [--out gap.json]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from _common import environment, markdown_table, save, setup_torch
from nasplug.core.architecture import Architecture
from nasplug.core.architecture import GatedChoice
from nasplug.runs.checkpoint import load_checkpoint
from nasplug.core.errors import NasplugError
from nasplug.plugin import load_plugins
from nasplug.runs.progress import Progress
from nasplug.train.ranking import sample_architectures
from nasplug.search import SearchEngine, latest_checkpoint, read_config
from nasplug.spaces.darts_cell.cell import CELL_TYPES, NODES
from nasplug.spaces.darts_cell.decisions import edge_key
from nasplug.spaces.darts_cell.ops import PRIMITIVES

KEPT_INPUTS = 2
LIVE_SHARE = 7 / 8
"""Under uniform sampling an edge is ``none`` one time in 8."""


def final_engine(run_dir: Path) -> tuple[SearchEngine, list[dict[str, Any]]]:
    """The run's engine with its last checkpoint's supernet weights, and that checkpoint's history.

    Only the weights are loaded (not :meth:`SearchEngine.restore`, which rewrites the run's
    ``history.jsonl``): the script reads a user's run and writes nothing into it.
    """
    try:
        config = read_config(run_dir)
    except NasplugError as error:
        raise SystemExit(str(error)) from None
    if config.space != "darts-cell":
        raise SystemExit(f"{run_dir} searched {config.space!r}; this script reads darts-cell runs")
    engine = SearchEngine(config, run_dir, load_plugins(), Progress(False))
    state = load_checkpoint(latest_checkpoint(run_dir))
    engine.supernet.load_state_dict(state["supernet"])
    engine.epoch = state["epoch"]
    return engine, list(state["history"])


def scaled(arch: Architecture) -> Architecture:
    """``arch`` with each edge into node n gated by √(n·7/8 / 2) (node n sums n inputs in training)."""
    paths = {}
    for cell in CELL_TYPES:
        for node in NODES:
            gate = math.sqrt(node * LIVE_SHARE / KEPT_INPUTS)
            for source in range(node):
                key = edge_key(cell, node, source)
                if key in arch.paths:
                    paths[key] = [GatedChoice(p.choice, gate) for p in arch.paths[key]]
    return Architecture(paths)


def filled(arch: Architecture, generator: torch.Generator) -> Architecture:
    """``arch`` with every edge it drops given a uniform choice of the 8 (``none`` included)."""
    paths = dict(arch.paths)
    for cell in CELL_TYPES:
        for node in NODES:
            for source in range(node):
                key = edge_key(cell, node, source)
                if key not in paths:
                    paths[key] = (GatedChoice(int(torch.randint(len(PRIMITIVES), (), generator=generator))),)
    return Architecture(paths)


def summary(label: str, accuracies: list[float]) -> list[str]:
    ordered = sorted(accuracies)
    return [label, str(len(ordered)), f"{statistics.fmean(ordered):.3f}", f"{ordered[0]:.3f}",
            f"{statistics.median(ordered):.3f}", f"{ordered[-1]:.3f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a finished (or interrupted) darts-cell search folder")
    parser.add_argument("--architectures", type=int, default=16, help="architectures per random row")
    parser.add_argument("--last", type=int, default=20,
                        help="the run's derived genotypes of its last N epochs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, help="also write the accuracies to this JSON file")
    args = parser.parse_args()
    setup_torch(args.threads, args.seed)
    started = time.perf_counter()
    engine, history = final_engine(args.run)
    space = engine.space
    generator = torch.Generator().manual_seed(args.seed)

    def accuracy(arch: Architecture) -> float:
        return engine.evaluate(arch)

    def genotype_arch(genotype: dict) -> Architecture:
        return space.architecture_from_genotype(space.parse_genotype(genotype, str(args.run)))

    decisions = space.decisions()
    uniform = sample_architectures(space, args.architectures, generator)
    genotypes = [
        space.architecture_from_genotype(space.genotype_from_scores(
            {d.key: torch.rand(len(d), generator=generator).tolist() for d in decisions}))
        for _ in range(args.architectures)
    ]
    rows: list[tuple[str, Callable[[], list[float]]]] = [
        ("uniform single paths, 14 edges per cell", lambda: [accuracy(a) for a in uniform]),
        ("uniform genotypes, 2 inputs per node", lambda: [accuracy(a) for a in genotypes]),
        ("the same, kept edges scaled √(inputs·7/8 / 2)", lambda: [accuracy(scaled(a)) for a in genotypes]),
        ("the same, dropped edges given a uniform op",
         lambda: [accuracy(filled(a, generator)) for a in genotypes]),
        (f"the run's derived genotypes, last {args.last} epochs",
         lambda: [accuracy(genotype_arch(r["genotype"])) for r in history[-args.last:]]),
        ("the run's final genotype", lambda: [accuracy(genotype_arch(history[-1]["genotype"]))]),
    ]
    accuracies = {label: compute() for label, compute in rows}
    table = [summary(label, values) for label, values in accuracies.items()]
    print(f"run {args.run}: epoch {engine.epoch}, search split {len(engine.batches.search_set)} images, "
          f"last sampled-path search accuracy {history[-1]['search_accuracy']:.3f}, "
          f"derived {history[-1].get('derived_accuracy', float('nan')):.3f} (as the run recorded them)")
    print(markdown_table(["architectures (final weights, search split)", "n", "mean", "min", "median", "max"],
                         table))
    seconds = time.perf_counter() - started
    print(f"{seconds:.0f} s")
    if args.out:
        save(args.out, {"run": str(args.run), "epoch": engine.epoch, "accuracies": accuracies,
                        "seconds": seconds, "environment": environment(engine.device)})


if __name__ == "__main__":
    main()
