"""Search throughput at the papers' settings, against the standalone child, and the full search it projects.

Each paper's search recipe (``nasplug recipes show NAME``) gives the network,
batch, epochs, split and controller options: MdeNAS 6 cells, C = 16, batch 512;
EoiNAS 8 cells, batch 64 (measured in its weights-only warm-up and while α
learns); PARSEC 8 cells, K = 16. Each step's train and search batches are drawn
from synthetic CIFAR-10 pixels (uint8, 3×32×32, 10 classes) augmented with the
CIFAR pipeline (crop, flip, Cutout where the recipe has it, normalisation):
held on the device (``--data-on-device on``, the engine's nasplug.data.device) or
through the DataLoader and the host transforms (``off``, ``--workers``); that
draw is timed apart from the step. The engine's own step then runs on them;
right after each step the children it sampled are built standalone and timed
doing the same work on the same batches (per sample one feedback forward and one
training step). Configurations are interleaved step by step. ``--amp`` and
``--channels-last`` apply to the step and to the child alike.

Throughput is weight-training images per second of step plus data (an epoch is
one pass over the weight-training split); the projected wall time of the full
paper search is steps per epoch × epochs × (median step + median data), the
epoch ends' bookkeeping left out. ``--quick`` scales everything down to run in
a few minutes on a CPU (a check of the script and of the ratios, not of speed).

    python benchmarks/search_throughput.py --device cuda --out throughput.json
    python benchmarks/search_throughput.py --quick --out throughput-quick.json
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import torch

from _common import (
    ChildTrainer,
    Precision,
    StepHarness,
    build_controller,
    environment,
    load_average,
    make_step,
    markdown_table,
    save,
    setup_torch,
    timed,
    ungated,
)
from nasplug.runs.device import resolve_device
from nasplug.data.bundle import TensorImages, TensorSource
from nasplug.data.cifar import RELEASES
from nasplug.data.device import DeviceSplit, cycling_device_batches
from nasplug.data.loaders import cycling_batches
from nasplug.data.pipelines import small_image_transforms
from nasplug.plugin import load_plugins
from nasplug.recipes import load_recipe
from nasplug.search import SearchConfig
from nasplug.core.space import DataShape
from step_cost import time_summary

CIFAR10_TRAIN_IMAGES = 50_000
CIFAR10 = DataShape(num_classes=10, in_channels=3, input_size=32)
RECIPES = ("mdenas-cifar10", "eoinas-cifar10", "parsec-cifar10")
QUICK = dict(steps=3, warmup_steps=1, batch_scale=1 / 16, input_size=16, parsec_k=2, images=2000)
"""What ``--quick`` sets (each unless given): a CPU check in minutes."""


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
    cutout: int


def recipe_phases(name: str, batch_scale: float, parsec_k: int | None) -> list[Phase]:
    """The phases of one recipe's search; EoiNAS has two (warm-up, then α learning)."""
    recipe = load_recipe(name, load_plugins())
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
                  steps_per_epoch=steps, cutout=settings.get("cutout", defaults.cutout))
    if controller == "eoinas":
        warmup = options.get("warmup", 0)
        return [
            Phase(label=f"{name} warm-up", controller_options={**options, "warmup": epochs}, epochs=warmup,
                  **common),
            Phase(label=name, controller_options={**options, "warmup": 0}, epochs=epochs - warmup, **common),
        ]
    return [Phase(label=name, controller_options=options, epochs=epochs, **common)]


def cifar_pixels(args: argparse.Namespace, cutout: int) -> TensorSource:
    """``--images`` random CIFAR-10-shaped uint8 images with the CIFAR pipeline's recipe (at --input-size)."""
    generator = torch.Generator().manual_seed(args.seed)
    size = args.input_size
    images = torch.randint(0, 256, (args.images, 3, size, size), dtype=torch.uint8, generator=generator)
    labels = torch.randint(CIFAR10.num_classes, (args.images,), generator=generator)
    release = RELEASES["cifar10"]
    return TensorSource(images, labels, padding=size // 8, flip=True, cutout=cutout, mean=release.mean,
                        std=release.std)


def batch_stream(args: argparse.Namespace, phase: Phase, device: torch.device) -> Iterator[Any]:
    """Batches as a search of ``phase`` draws them: augmented on the device, or by the DataLoader and moved."""
    source = cifar_pixels(args, phase.cutout)
    if args.data_on_device == "on":
        split = DeviceSplit(source, range(args.images), device)
        return cycling_device_batches(split, phase.batch_size, seed=args.seed, start=0,
                                      augmentation_seed=lambda step: args.seed + step)
    transform, _ = small_image_transforms(source.mean, source.std, args.input_size, resize=False, augment=True,
                                          cutout=phase.cutout)
    dataset = TensorImages(source.images, source.labels, [str(c) for c in range(10)], transform)
    batches = cycling_batches(dataset, phase.batch_size, seed=args.seed, start=0, num_workers=args.workers,
                              pin_memory=device.type == "cuda")
    return ((x.to(device, non_blocking=True), y.to(device, non_blocking=True)) for x, y in batches)


def measure(
    args: argparse.Namespace, phases: list[Phase], precision: Precision
) -> dict[str, list[dict[str, Any]]]:
    """Per round one engine step of every phase, each followed by its samples' children standalone."""
    device = resolve_device(args.device)
    shape = attrs.evolve(CIFAR10, input_size=args.input_size)
    hooks = load_plugins()
    runs = {}
    for phase in phases:
        space = hooks.build_space("darts-cell", shape, phase.space_options)
        controller = build_controller(phase.controller, space, phase.controller_options, args.seed)
        harness = StepHarness(space, controller, phase.controller, device, load_plugins(), precision)
        runs[phase.label] = (space, harness, batch_stream(args, phase, device))
    records: dict[str, list[dict[str, Any]]] = {phase.label: [] for phase in phases}
    for index in range(args.warmup_steps + args.steps):
        for phase in phases:
            space, harness, stream = runs[phase.label]
            data_seconds, (train, search) = timed(device, lambda: (next(stream), next(stream)))
            step = make_step(index, phase.steps_per_epoch)
            seconds, _ = timed(device, lambda: harness.step(step, train, search))
            evals, trains = [], []
            for sample in harness.hooks.samples:
                child = ChildTrainer(space, ungated(sample), device, precision)
                child.evaluate(*search)  # warm-up: first calls allocate
                child.train_step(*train)
                evals.append(timed(device, partial(child.evaluate, *search))[0])
                trains.append(timed(device, partial(child.train_step, *train))[0])
                del child  # before the next child is built: one child's memory at a time
            if index >= args.warmup_steps:
                records[phase.label].append({"step": seconds, "data": data_seconds, "child_eval": evals,
                                             "child_train": trains})
            print(f"  step {index + 1} {phase.label}: {seconds:.2f} s + data {data_seconds:.3f} s", flush=True)
    return records


def summarise(phase: Phase, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    times = time_summary(rounds)
    data_s = statistics.median(r["data"] for r in rounds)
    step_s = times["step_ms"] / 1e3 + data_s
    child_s = times["child_same_work_ms"] / 1e3
    return {
        **attrs.asdict(phase),
        **times,
        "data_ms": 1e3 * data_s,
        "search_images_per_s": phase.batch_size / step_s,
        "child_images_per_s": phase.batch_size / child_s,
        "projected_hours": phase.epochs * phase.steps_per_epoch * step_s / 3600,
        "child_projected_hours": phase.epochs * phase.steps_per_epoch * child_s / 3600,
    }


def table(summary: dict[str, dict[str, Any]]) -> str:
    headers = ["configuration", "batch", "samples/step", "search step s", "data s", "search img/s",
               "child same work img/s", "× same work standalone", "steps × epochs",
               "projected search h", "projected child h"]
    rows = [[label, s["batch_size"], s["samples"], f"{s['step_ms'] / 1e3:.3f}", f"{s['data_ms'] / 1e3:.3f}",
             f"{s['search_images_per_s']:.1f}", f"{s['child_images_per_s']:.1f}", f"{s['x_same_work']:.2f}",
             f"{s['steps_per_epoch']} × {s['epochs']}", f"{s['projected_hours']:.2f}",
             f"{s['child_projected_hours']:.2f}"] for label, s in summary.items()]
    recipes = sorted({s["recipe"] for s in summary.values()}, key=RECIPES.index)
    totals = [[f"**{name} total**", "", "", "", "", "", "", "", "",
               f"{sum(s['projected_hours'] for s in summary.values() if s['recipe'] == name):.2f}",
               f"{sum(s['child_projected_hours'] for s in summary.values() if s['recipe'] == name):.2f}"]
              for name in recipes]
    return markdown_table(headers, rows + totals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", default=",".join(RECIPES),
                        help=f"comma-separated search recipes to measure (default {','.join(RECIPES)})")
    parser.add_argument("--steps", type=int, help="measured steps of each configuration (default 5)")
    parser.add_argument("--warmup-steps", type=int, help="unmeasured first steps (default 1)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--data-on-device", choices=("on", "off"), default="on",
                        help="on (default): batches held and augmented on the device; off: DataLoader, host "
                             "transforms, copy")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers with --data-on-device off")
    parser.add_argument("--images", type=int, help="synthetic training images (default 50000, CIFAR-10's)")
    parser.add_argument("--amp", action="store_true", help="bf16 autocast in the step and the child")
    parser.add_argument("--channels-last", action="store_true",
                        help="channels-last memory format in the step and the child")
    parser.add_argument("--quick", action="store_true",
                        help="a few minutes on a CPU: " + ", ".join(f"{k.replace('_', '-')} {v:g}"
                                                                  for k, v in QUICK.items()))
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-scale", type=float,
                        help="multiply the papers' batches (default 1: a quick check only; the projection "
                             "still counts the paper's steps)")
    parser.add_argument("--input-size", type=int, help="image size (default 32, CIFAR-10's)")
    parser.add_argument("--parsec-k", type=int, default=None, help="override PARSEC's K (default: the recipe's 16)")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    args = parser.parse_args()
    defaults = {**dict(steps=5, warmup_steps=1, batch_scale=1.0, input_size=32, parsec_k=None, images=50_000),
                **(QUICK if args.quick else {})}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.steps < 1 or args.warmup_steps < 0 or args.batch_scale <= 0:
        parser.error("--steps must be ≥ 1, --warmup-steps ≥ 0 and --batch-scale > 0")
    setup_torch(args.threads, args.seed)
    device = resolve_device(args.device)
    phases = [p for name in args.recipes.split(",") for p in recipe_phases(name, args.batch_scale, args.parsec_k)]

    load_before = load_average()
    print(f"timing {len(phases)} configurations, {args.steps} steps each ...", flush=True)
    precision = Precision(amp=args.amp, channels_last=args.channels_last)
    records = measure(args, phases, precision)
    load_after = load_average()
    summary = {phase.label: summarise(phase, records[phase.label]) for phase in phases}
    print()
    print(table(summary))
    save(args.out, {
        "benchmark": "search_throughput",
        "environment": environment(device),
        "load_average": {"start": load_before, "end": load_after},
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "precision": attrs.asdict(precision),
        "summary": summary,
        "rounds": records,
        "table": table(summary),
    })


if __name__ == "__main__":
    main()
