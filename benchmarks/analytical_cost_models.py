"""What the analytical cost models (params, madds) cost a gradient-based step under a target (issue #27 review).

A gradient-based controller under ``--target`` asks ``decision_costs`` every step: the cost of the
sample with each decision's choice swapped for each choice. Counted child by child, that is one
supernet-child build and flop count per (decision, choice) per step (224 on darts-cell). The models now
count a base child and each single swap once, check that the counts add up, and look every swap up.
This script times, per space, one child's count, the one-off table, and a looked-up ``decision_costs``,
and states how many builds a step took before (Σ choices) and takes now (0).

    python benchmarks/analytical_cost_models.py --out benchmarks/results/analytical_cost_models.json
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import torch

from nasplug.core.architecture import Architecture
from nasplug.plugin import load_plugins
from nasplug.runs.files import write_json

SPACES = {"darts-cell": {"layers": 3, "channels": 4}, "nas-bench-201": {"cells": 1, "channels": 4}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--children", type=int, default=8, help="children counted one by one, for the per-build time")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    hooks = load_plugins()
    rows = {}
    for name, options in SPACES.items():
        space = hooks.build_space(name, hooks.dataset_shape("digits"), options)
        decisions = space.decisions()
        draw = random.Random(0)
        samples = [{d.key: draw.randrange(len(d)) for d in decisions} for _ in range(args.children)]
        counter = hooks.build_cost_model("madds", space)
        started = time.perf_counter()
        for choices in samples:
            counter.cost(Architecture.single_path(choices))
        per_build = (time.perf_counter() - started) / len(samples)
        model = hooks.build_cost_model("madds", space)
        started = time.perf_counter()
        model.decision_costs(Architecture.single_path(samples[0]))
        table_seconds = time.perf_counter() - started
        started = time.perf_counter()
        for choices in samples:
            model.decision_costs(Architecture.single_path(choices))
        lookup = (time.perf_counter() - started) / len(samples)
        swaps = sum(len(d) for d in decisions)
        one_off = 1 + sum(len(d) - 1 for d in decisions) + 2  # the base, each swap from it, two checks
        rows[name] = {"options": options, "additive": model._additive, "builds_per_step_before": swaps,
                      "builds_per_step_now": 0, "one_off_builds": one_off, "seconds_per_build": per_build,
                      "seconds_per_step_before_estimated": swaps * per_build, "one_off_table_seconds": table_seconds,
                      "seconds_per_step_now": lookup}
        print(f"{name}: {swaps} builds/step before, ~{swaps * per_build:.1f} s/step (at {per_build:.3f} s per build); "
              f"now a one-off table of {one_off} builds in {table_seconds:.1f} s, then {lookup * 1e3:.2f} ms/step",
              flush=True)
    write_json(args.out, {"threads": 1, "dataset": "digits", "spaces": rows})


if __name__ == "__main__":
    main()
