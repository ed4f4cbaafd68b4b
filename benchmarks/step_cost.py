"""Step cost: a search step of each controller against training its sampled child standalone, and DARTS.

For every configuration (random, mdenas, parsec with K samples, eoinas while
it learns α, and the first-order DARTS mixture) the engine's own step runs on
fixed synthetic batches. Right after each step the children it sampled are
built standalone (``space.build_supernet(only=arch)``, identical compute) and
timed doing (a) one training step and (b) the same work the search step did:
one feedback forward on the search batch plus one training step, per sample.
The DARTS row is paired with a uniformly sampled child. Configurations are
interleaved round by round and summarised by the median of per-round ratios.

Peak memory is measured per configuration in a fresh process: the search
step's supernet, and the standalone children of the very samples that process
ran (see ``_common.PeakMemory`` for what is counted).

    python benchmarks/step_cost.py --out step_cost.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from _common import (
    DARTS,
    MALLOC_ENV,
    Configurations,
    ChildTrainer,
    PeakMemory,
    StepHarness,
    add_network_arguments,
    arch_from_json,
    arch_to_json,
    build_controller,
    configurations,
    data_shape,
    environment,
    load_average,
    make_step,
    markdown_table,
    save,
    setup_torch,
    space_options,
    synthetic_batches,
    timed,
    uniform_architecture,
    ungated,
    warm_up,
    worker_result,
)
from nasplug.runs.device import resolve_device
from nasplug.plugin import load_plugins
from nasplug.core.space import DataShape

WORKER = "--worker"
MIB = 2**20


# ---------------------------------------------------------------------------- time, in this process


def measure_times(args: argparse.Namespace, configs: Configurations) -> dict[str, Any]:
    """Per round, one engine step of every configuration, each followed by its children standalone."""
    device = resolve_device(args.device)
    hooks = load_plugins()
    space = hooks.build_space(args.space, data_shape(args), space_options(args))
    train, search = synthetic_batches(space.data, args.batch_size, args.seed, device)
    harnesses = {}
    for label, (name, options) in configs.items():
        controller = build_controller(name, space, options, args.seed)
        harnesses[label] = StepHarness(space, controller, name, device, load_plugins())
    uniform = torch.Generator().manual_seed(args.seed + 1)
    records: dict[str, list[dict[str, Any]]] = {label: [] for label in configs}
    labels = list(configs)
    for round_index in range(args.warmup_rounds + args.rounds):
        shift = round_index % len(labels)
        for label in labels[shift:] + labels[:shift]:  # rotate so no configuration always runs first
            harness = harnesses[label]
            step = make_step(round_index, args.steps_per_epoch)
            seconds, _ = timed(device, lambda: harness.step(step, train, search))
            if label == DARTS:
                archs = [uniform_architecture(space, uniform)]
            else:
                archs = [ungated(sample) for sample in harness.hooks.samples]
            evals, trains = [], []
            for arch in archs:
                child = ChildTrainer(space, arch, device)
                child.evaluate(*search)  # warm-up: first calls allocate
                child.train_step(*train)
                evals.append(timed(device, lambda: child.evaluate(*search))[0])
                trains.append(timed(device, lambda: child.train_step(*train))[0])
            if round_index >= args.warmup_rounds:
                records[label].append({"step": seconds, "child_eval": evals, "child_train": trains})
    return records


def time_summary(rounds: list[dict[str, Any]]) -> dict[str, float]:
    """Medians over rounds of the times and of the per-round (paired) ratios."""
    one_child = [statistics.fmean(r["child_train"]) for r in rounds]
    same_work = [sum(r["child_eval"]) + sum(r["child_train"]) for r in rounds]
    steps = [r["step"] for r in rounds]
    return {
        "samples": len(rounds[0]["child_train"]),
        "step_ms": 1e3 * statistics.median(steps),
        "child_train_ms": 1e3 * statistics.median(one_child),
        "child_same_work_ms": 1e3 * statistics.median(same_work),
        "x_child_train": statistics.median(s / c for s, c in zip(steps, one_child)),
        "x_same_work": statistics.median(s / c for s, c in zip(steps, same_work)),
    }


# ---------------------------------------------------------------------------- memory, one process each


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Run ``spec`` in a fresh interpreter and return its JSON answer."""
    command = [sys.executable, str(Path(__file__).resolve()), WORKER, json.dumps(spec)]
    env = {**os.environ, **MALLOC_ENV}
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"memory worker {spec['role']} {spec.get('label')} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def worker(spec: dict[str, Any]) -> None:
    """Peak memory of ``spec['steps']`` search steps, or of the standalone children of given samples."""
    setup_torch(spec["threads"], spec["seed"])
    device = resolve_device(spec["device"])
    hooks = load_plugins()
    space = hooks.build_space(spec["space"], DataShape(*spec["shape"]), spec["space_options"])
    train, search = synthetic_batches(space.data, spec["batch_size"], spec["seed"], device)
    warm_up(space, train, device)
    memory = PeakMemory(device)
    memory.start()
    ran: list[list[dict[str, list[int]]]] = []
    if spec["role"] == "search":
        controller = build_controller(spec["controller"], space, spec["options"], spec["seed"])
        harness = StepHarness(space, controller, spec["controller"], device, hooks)
        uniform = torch.Generator().manual_seed(spec["seed"] + 1)
        for index in range(spec["steps"]):
            harness.step(make_step(index, spec["steps_per_epoch"]), train, search)
            if spec["controller"] == DARTS:  # its reference child: a uniform sample
                ran.append([arch_to_json(uniform_architecture(space, uniform))])
            else:
                ran.append([arch_to_json(sample) for sample in harness.hooks.samples])
    else:
        for step_archs in spec["archs"]:
            for data in step_archs:
                child = ChildTrainer(space, arch_from_json(data), device)
                child.evaluate(*search)
                child.train_step(*train)
                del child
    worker_result({"peak_bytes": memory.peak(), "method": memory.method, "samples": ran})


def measure_memory(args: argparse.Namespace, configs: Configurations) -> dict[str, Any]:
    base = {
        "space": args.space,
        "space_options": space_options(args),
        "shape": [args.classes, args.in_channels, args.input_size],
        "batch_size": args.batch_size,
        "device": args.device,
        "threads": args.threads,
        "seed": args.seed,
        "steps_per_epoch": args.steps_per_epoch,
    }
    result = {}
    for label, (name, options) in configs.items():
        search = run_worker({**base, "role": "search", "label": label, "controller": name, "options": options,
                             "steps": args.memory_steps})
        child = run_worker({**base, "role": "child", "label": label, "archs": search["samples"]})
        result[label] = {
            "search_peak_mib": search["peak_bytes"] / MIB,
            "child_peak_mib": child["peak_bytes"] / MIB,
            "x_memory": search["peak_bytes"] / child["peak_bytes"],
            "method": search["method"],
        }
        print(f"  memory {label}: search {result[label]['search_peak_mib']:.1f} MiB, "
              f"child {result[label]['child_peak_mib']:.1f} MiB", flush=True)
    return result


# ---------------------------------------------------------------------------- report


def table(summary: dict[str, dict[str, Any]]) -> str:
    headers = ["configuration", "samples/step", "search step ms", "child train step ms",
               "× one child's train step", "child same work ms", "× same work standalone",
               "search peak MiB", "child peak MiB", "× memory"]
    rows = []
    for label, s in summary.items():
        rows.append([
            label, s["samples"], f"{s['step_ms']:.1f}", f"{s['child_train_ms']:.1f}",
            f"{s['x_child_train']:.2f}", f"{s['child_same_work_ms']:.1f}", f"{s['x_same_work']:.2f}",
            f"{s['search_peak_mib']:.1f}", f"{s['child_peak_mib']:.1f}", f"{s['x_memory']:.2f}",
        ])
    return markdown_table(headers, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_network_arguments(parser)
    parser.add_argument("--controllers", default=f"random,mdenas,parsec,eoinas,{DARTS}",
                        help="comma-separated; 'darts' is the DARTS mixture baseline")
    parser.add_argument("--parsec-k", type=int, action="append", help="PARSEC's K (repeatable; default 4)")
    parser.add_argument("--rounds", type=int, default=8, help="measured rounds (one step of each per round)")
    parser.add_argument("--warmup-rounds", type=int, default=2)
    parser.add_argument("--memory-steps", type=int, default=6, help="steps per fresh memory process")
    parser.add_argument("--steps-per-epoch", type=int, default=10, help="MdeNAS updates at each epoch end")
    args = parser.parse_args()
    setup_torch(args.threads, args.seed)
    configs = configurations(args.controllers.split(","), args.parsec_k or [4], eoinas_warmup=False)
    device = resolve_device(args.device)

    load_before = load_average()
    print(f"timing {len(configs)} configurations, {args.rounds} rounds ...", flush=True)
    records = measure_times(args, configs)
    load_after_time = load_average()
    print("peak memory, one fresh process per configuration ...", flush=True)
    memory = measure_memory(args, configs)
    load_after = load_average()

    summary = {label: {**time_summary(records[label]), **memory[label]} for label in configs}
    print()
    print(table(summary))
    save(args.out, {
        "benchmark": "step_cost",
        "environment": environment(device),
        "load_average": {"start": load_before, "after_timing": load_after_time, "end": load_after},
        "settings": {**{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                     "space_options": space_options(args)},
        "configurations": {label: {"controller": name, "options": options}
                           for label, (name, options) in configs.items()},
        "summary": summary,
        "rounds": records,
        "table": table(summary),
    })


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == WORKER:
        worker(json.loads(sys.argv[2]))
    else:
        main()
