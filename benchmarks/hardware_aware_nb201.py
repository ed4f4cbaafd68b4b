"""Searching under a latency target, scored against the truth of NAS-Bench-201's table (issue #27, part 4).

Every controller (random search with weight sharing, MdeNAS, PARSEC, EoiNAS) searches the
nas-bench-201 space on real CIFAR-10 under ``--target latency=T --cost-model nb201-latency-DEVICE``
for two devices of the table (a phone, ``pixel3``, and a GPU, ``1080ti_1``: batch 1) and three targets
per device, the 25th, 50th and 75th percentile of that device's latency over the 15,625 cells; and
once without a target, for reference. The derived cell is looked up in the table (the HW-NAS-Bench
way of scoring, its latencies being in the shipped table): its CIFAR-10 test accuracy (200 epochs, the
benchmark's networks) and latency, whether it meets the target, the best accuracy any cell reaches
within the target (the true Pareto front at T) and the gap to it, and its distance to the front at its
own latency (the best accuracy among cells no slower, minus its own).

CPU budget (the default; the machine is a shared 2-core one): a CIFAR-10 subset (``--subset`` training
images, the first ``subset / 5`` of each training batch, split half for the weights, half for the
architecture), images downsampled to 16×16, one cell per stage (N = 1, C = 16), ``--epochs`` epochs
(PARSEC K = 2 for half as many; EoiNAS with a warm-up and four prunes spaced evenly), batch 64, one
thread, one seed; the benchmark's weight-sharing SGD (Nesterov 0.9, lr 0.025 → 0.001 cosine, weight
decay 5e-4, clip 5). Each search's row is appended to ``--out`` as it finishes.

    python benchmarks/hardware_aware_nb201.py --data-dir /tmp/cifar --out benchmarks/results/hardware_aware_nb201.json
"""

from __future__ import annotations

import argparse
import pickle
import time
from pathlib import Path
from typing import Any

import numpy as np

from nasplug.plugin import load_plugins
from nasplug.runs.files import write_json
from nasplug.runs.progress import Progress
from nasplug.search import SearchConfig, run_search
from nasplug_nb201 import Nb201Genotype
from nasplug_nb201.table import load_table

DEVICES = ("pixel3", "1080ti_1")
PERCENTILES = (25, 50, 75)
TRUTH = "cifar10_test"
CONTROLLERS = ("random", "mdenas", "parsec", "eoinas")


def subset_cifar(source: Path, images: int, work: Path) -> Path:
    """A copy of CIFAR-10's python batches holding the first ``images / 5`` images of each training batch."""
    target = work / "cifar-subset" / "cifar-10-batches-py"
    target.mkdir(parents=True, exist_ok=True)
    batches = source / "cifar-10-batches-py"
    for name in ("batches.meta", "test_batch", *(f"data_batch_{i}" for i in range(1, 6))):
        with open(batches / name, "rb") as handle:
            batch = pickle.load(handle, encoding="bytes")
        if name != "batches.meta":
            keep = images // 5 if name.startswith("data") else 1000
            batch = {key: value[:keep] if _text(key) in ("data", "labels", "filenames") else value
                     for key, value in batch.items()}
        with open(target / name, "wb") as handle:
            pickle.dump(batch, handle)
    return target.parent


def _text(key: str | bytes) -> str:
    return key.decode() if isinstance(key, bytes) else key


def controller_options(name: str, epochs: int) -> tuple[dict[str, Any], int]:
    if name == "parsec":
        return {"samples": 2}, max(1, epochs // 2)
    if name == "eoinas":
        fifth = max(1, round(epochs / 5))
        return {"warmup": fifth, "interval": fifth, "keep": ""}, epochs
    return {}, epochs


def front_accuracy(latency: np.ndarray, accuracy: np.ndarray, bound: float) -> float:
    """The best table accuracy of any cell no slower than ``bound``."""
    within = latency <= bound
    return float(accuracy[within].max()) if within.any() else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True, help="holds cifar-10-batches-py")
    parser.add_argument("--subset", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--input-size", type=int, default=16)
    parser.add_argument("--rule", default="hard", choices=("soft", "hard"))
    parser.add_argument("--controllers", default=",".join(CONTROLLERS))
    parser.add_argument("--devices", default=",".join(DEVICES), help="the devices whose targets to search under")
    parser.add_argument("--percentiles", default=",".join(map(str, PERCENTILES)),
                        help="the targets, as percentiles of each device's latency over the space")
    parser.add_argument("--targets-ms", default="",
                        help="explicit targets in ms (comma-separated), searched instead of --percentiles")
    parser.add_argument("--no-baseline", action="store_true", help="skip the searches without a target")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=Path("/tmp/hardware_aware_nb201"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    data_dir = subset_cifar(args.data_dir, args.subset, args.work)
    table = load_table()
    accuracy = table.columns[TRUTH]
    runs: list[dict[str, Any]] = []
    result = {"budget": {"subset": args.subset, "epochs": args.epochs, "input_size": args.input_size,
                         "cells": 1, "channels": 16, "threads": 1, "seed": args.seed, "rule": args.rule,
                         "pixels": "CIFAR-10 python batches, JPEG-decoded pixels"}, "runs": runs}
    jobs: list[tuple[str | None, int | None, float | None]] = [] if args.no_baseline else [(None, None, None)]
    for device in args.devices.split(","):
        column = table.latency_ms[:, table.devices.index(device)]
        if args.targets_ms:
            jobs += [(device, None, float(ms)) for ms in args.targets_ms.split(",")]
        else:
            jobs += [(device, int(p), round(float(np.percentile(column, int(p))), 2))
                     for p in args.percentiles.split(",")]
    for device, percentile, target in jobs:
        for name in args.controllers.split(","):
            options, epochs = controller_options(name, args.epochs)
            config = SearchConfig(
                space="nas-bench-201", controller=name, dataset="cifar10", data_dir=str(data_dir), epochs=epochs,
                batch_size=64, seed=args.seed, lr=0.025, lr_min=0.001, momentum=0.9, nesterov=True,
                weight_decay=5e-4, grad_clip=5.0, train_fraction=0.5, input_size=args.input_size,
                space_options={"cells": 1, "channels": 16}, controller_options=options, device="cpu",
                keep_checkpoints=1, target=None if target is None else f"latency={target}ms",
                cost_model=None if device is None else f"nb201-latency-{device}", target_rule=args.rule)
            run_dir = args.work / f"{name}-{device or 'none'}-{percentile or target or 0}"
            started = time.perf_counter()
            found = run_search(config, run_dir, threads=1, hooks=load_plugins(), progress=Progress(False))
            genotype = found.genotype
            if not isinstance(genotype, Nb201Genotype):
                raise TypeError(f"expected a nas-bench-201 cell, got {genotype!r}")
            row: dict[str, Any] = {"controller": name, "device": device, "percentile": percentile,
                                   "target_ms": target, "genotype": genotype.to_string(),
                                   "options": options, "epochs": epochs,
                                   "accuracy": table.value(genotype, TRUTH),
                                   "seconds": time.perf_counter() - started,
                                   "last_epoch": {key: found.history[-1].get(key) for key in (
                                       "search_accuracy", "search_cost", "search_reward", "derived_cost")}}
            for scored in DEVICES:
                column = table.latency_ms[:, table.devices.index(scored)]
                own = float(column[genotype.code])
                row[f"latency_ms_{scored}"] = own
                row[f"front_distance_{scored}"] = front_accuracy(column, accuracy, own) - row["accuracy"]
            if device is not None:
                column = table.latency_ms[:, table.devices.index(device)]
                row["meets_target"] = row[f"latency_ms_{device}"] <= target
                row["front_accuracy_at_target"] = front_accuracy(column, accuracy, target)
                row["gap_at_target"] = row["front_accuracy_at_target"] - row["accuracy"]
            runs.append(row)
            write_json(args.out, result)
            print(f"{name:>7} {device or '-':>9} {str(target or '-'):>6}  acc {row['accuracy']:.2f}  "
                  + "  ".join(f"{d} {row[f'latency_ms_{d}']:.2f} ms" for d in DEVICES)
                  + (f"  meets {row['meets_target']}  gap {row['gap_at_target']:.2f}" if device else "")
                  + f"  ({row['seconds']:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
