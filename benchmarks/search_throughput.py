"""Search throughput at the papers' settings, against the standalone child, and the full search it projects.

Each paper's search recipe (``nasplug recipes show NAME``) gives the network,
batch, epochs, split and controller options: MdeNAS 6 cells, C = 16, batch 512;
EoiNAS 8 cells, batch 64 (measured in its weights-only warm-up and while α
learns); PARSEC 8 cells, K = 16. The engine's own step runs on fixed synthetic
CIFAR-10-shaped batches (3×32×32, 10 classes: compute, not loading, is
measured); right after each step the children it sampled are built standalone
and timed doing the same work (per sample one feedback forward and one training
step). Configurations are interleaved step by step.

Throughput is weight-training images per second (an epoch is one pass over the
weight-training split); the projected wall time of the full paper search is
steps per epoch × epochs × the median step, the epoch ends' bookkeeping and
data loading left out.

    python benchmarks/search_throughput.py --device cuda --out throughput.json
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any

import attrs
import torch

from _common import (
    ChildTrainer,
    StepHarness,
    build_controller,
    environment,
    load_average,
    make_step,
    markdown_table,
    resolve_device,
    save,
    setup_torch,
    synthetic_batches,
    timed,
    ungated,
)
from nasplug.plugins import load_plugins
from nasplug.recipes import load_recipe
from nasplug.search import SearchConfig
from nasplug.space import DataShape
from step_cost import time_summary

CIFAR10_TRAIN_IMAGES = 50_000
CIFAR10 = DataShape(num_classes=10, in_channels=3, input_size=32)
RECIPES = ("mdenas-cifar10", "eoinas-cifar10", "parsec-cifar10")


@attrs.frozen
class Phase:
    """One measured configuration: a recipe's network, batch and controller, for ``epochs`` of its search."""

    label: str
    recipe: str
    controller: str
    space_options: dict[str, Any]
    controller_options: dict[str, Any]
    batch_size: int
    epochs: int
    steps_per_epoch: int


def recipe_phases(name: str, batch_scale: float, parsec_k: int | None) -> list[Phase]:
    """The phases of one recipe's search; EoiNAS has two (warm-up, then α learning)."""
    recipe = load_recipe(name)
    settings = recipe.settings
    defaults = SearchConfig(space="", controller="")
    paper_batch = settings.get("batch_size", defaults.batch_size)
    batch = max(1, round(paper_batch * batch_scale))
    search_images = settings.get("search_images")
    if search_images is None:
        search_images = CIFAR10_TRAIN_IMAGES - round(CIFAR10_TRAIN_IMAGES * settings.get(
            "train_fraction", defaults.train_fraction))
    steps = (CIFAR10_TRAIN_IMAGES - search_images) // paper_batch  # the engine drops the last partial batch
    epochs = settings.get("epochs", defaults.epochs)
    controller = settings["controller"]
    options = recipe.table("controller")
    if controller == "parsec" and parsec_k is not None:
        options["samples"] = parsec_k
    common = dict(recipe=name, controller=controller, space_options=recipe.table("space"), batch_size=batch,
                  steps_per_epoch=steps)
    if controller == "eoinas":
        warmup = options.get("warmup", 0)
        return [
            Phase(label=f"{name} warm-up", controller_options={**options, "warmup": epochs}, epochs=warmup,
                  **common),
            Phase(label=name, controller_options={**options, "warmup": 0}, epochs=epochs - warmup, **common),
        ]
    return [Phase(label=name, controller_options=options, epochs=epochs, **common)]


def measure(args: argparse.Namespace, phases: list[Phase]) -> dict[str, list[dict[str, Any]]]:
    """Per round one engine step of every phase, each followed by its samples' children standalone."""
    device = resolve_device(args.device)
    shape = attrs.evolve(CIFAR10, input_size=args.input_size)
    hooks = load_plugins()
    runs = {}
    for phase in phases:
        space = hooks.build_space("darts-cell", shape, phase.space_options)
        controller = build_controller(phase.controller, space, phase.controller_options, args.seed)
        harness = StepHarness(space, controller, phase.controller, device, load_plugins())
        runs[phase.label] = (space, harness, synthetic_batches(shape, phase.batch_size, args.seed, device))
    records: dict[str, list[dict[str, Any]]] = {phase.label: [] for phase in phases}
    for index in range(args.warmup_steps + args.steps):
        for phase in phases:
            space, harness, (train, search) = runs[phase.label]
            step = make_step(index, phase.steps_per_epoch)
            seconds, _ = timed(device, lambda: harness.step(step, train, search))
            evals, trains = [], []
            for sample in harness.hooks.samples:
                child = ChildTrainer(space, ungated(sample), device)
                child.evaluate(*search)  # warm-up: first calls allocate
                child.train_step(*train)
                evals.append(timed(device, lambda: child.evaluate(*search))[0])
                trains.append(timed(device, lambda: child.train_step(*train))[0])
                del child
            if index >= args.warmup_steps:
                records[phase.label].append({"step": seconds, "child_eval": evals, "child_train": trains})
            print(f"  step {index + 1} {phase.label}: {seconds:.2f} s", flush=True)
    return records


def summarise(phase: Phase, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    times = time_summary(rounds)
    step_s = times["step_ms"] / 1e3
    child_s = times["child_same_work_ms"] / 1e3
    return {
        **attrs.asdict(phase),
        **times,
        "search_images_per_s": phase.batch_size / step_s,
        "child_images_per_s": phase.batch_size / child_s,
        "projected_hours": phase.epochs * phase.steps_per_epoch * step_s / 3600,
        "child_projected_hours": phase.epochs * phase.steps_per_epoch * child_s / 3600,
    }


def table(summary: dict[str, dict[str, Any]]) -> str:
    headers = ["configuration", "batch", "samples/step", "search step s", "search img/s",
               "child same work img/s", "× same work standalone", "steps × epochs",
               "projected search h", "projected child h"]
    rows = [[label, s["batch_size"], s["samples"], f"{s['step_ms'] / 1e3:.3f}",
             f"{s['search_images_per_s']:.1f}", f"{s['child_images_per_s']:.1f}", f"{s['x_same_work']:.2f}",
             f"{s['steps_per_epoch']} × {s['epochs']}", f"{s['projected_hours']:.2f}",
             f"{s['child_projected_hours']:.2f}"] for label, s in summary.items()]
    recipes = sorted({s["recipe"] for s in summary.values()}, key=RECIPES.index)
    totals = [[f"**{name} total**", "", "", "", "", "", "", "",
               f"{sum(s['projected_hours'] for s in summary.values() if s['recipe'] == name):.2f}",
               f"{sum(s['child_projected_hours'] for s in summary.values() if s['recipe'] == name):.2f}"]
              for name in recipes]
    return markdown_table(headers, rows + totals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", default=",".join(RECIPES),
                        help=f"comma-separated search recipes to measure (default {','.join(RECIPES)})")
    parser.add_argument("--steps", type=int, default=5, help="measured steps of each configuration (default 5)")
    parser.add_argument("--warmup-steps", type=int, default=1, help="unmeasured first steps (default 1)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-scale", type=float, default=1.0,
                        help="multiply the papers' batches (default 1: a quick check only; the projection "
                             "still counts the paper's steps)")
    parser.add_argument("--input-size", type=int, default=32, help="image size (default 32, CIFAR-10's)")
    parser.add_argument("--parsec-k", type=int, default=None, help="override PARSEC's K (default: the recipe's 16)")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    args = parser.parse_args()
    if args.steps < 1 or args.warmup_steps < 0 or args.batch_scale <= 0:
        parser.error("--steps must be ≥ 1, --warmup-steps ≥ 0 and --batch-scale > 0")
    setup_torch(args.threads, args.seed)
    device = resolve_device(args.device)
    phases = [p for name in args.recipes.split(",") for p in recipe_phases(name, args.batch_scale, args.parsec_k)]

    load_before = load_average()
    print(f"timing {len(phases)} configurations, {args.steps} steps each ...", flush=True)
    records = measure(args, phases)
    load_after = load_average()
    summary = {phase.label: summarise(phase, records[phase.label]) for phase in phases}
    print()
    print(table(summary))
    save(args.out, {
        "benchmark": "search_throughput",
        "environment": environment(device),
        "load_average": {"start": load_before, "end": load_after},
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "summary": summary,
        "rounds": records,
        "table": table(summary),
    })


if __name__ == "__main__":
    main()
