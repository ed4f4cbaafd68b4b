"""Search throughput on one process against two (gloo on the CPU; NCCL with --device cuda).

Each configuration starts its processes the way torchrun does (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR
and MASTER_PORT in the environment; nasplug.search.distributed.joined builds the group), builds the engine of a
digits search and times its epochs on every rank: wall-clock and the process's CPU time. The first epoch
is warm-up and dropped. Start-up and the per-epoch checkpoint are left out: they do not scale.

A step trains max(K, N) samples (the engine asks the controller again until every rank has one) and each
sample trains on one rank's batch, so the work that compares across process counts is the trained
sample-image: steps per epoch x samples per step x batch size. The CPU columns show what distribution
costs even when other jobs share the cores and stretch the wall clock: a rank's CPU seconds per epoch are
its epoch time on a core of its own, and CPU per sample-image (summed over the ranks) is the overhead.

    python benchmarks/distributed_throughput.py --out distributed_throughput.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.multiprocessing as mp

from _common import environment, load_average, markdown_table, save
from nasplug.search.distributed import joined
from nasplug.plugin import load_plugins
from nasplug.runs.progress import Progress
from nasplug.search import SearchConfig, SearchEngine
from nasplug.runs.device import resolve_device

# (row name, controller, its options, samples K per sample_architecture call)
WORKLOADS = [("random (K=1)", "random", {}, 1), ("parsec (K=4)", "parsec", {"samples": "4"}, 4)]


def rank_worker(rank: int, processes: int, port: int, settings: dict[str, Any], folder: str) -> None:
    """One rank: join the group from the environment, time the engine's epochs, leave a JSON line."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(processes),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(settings["threads"])
    config = SearchConfig(
        space="darts-cell", controller=settings["controller"], dataset="digits", epochs=settings["epochs"],
        batch_size=settings["batch_size"], space_options={"layers": str(settings["layers"]),
                                                          "channels": str(settings["channels"])},
        controller_options=settings["options"], device=settings["device"], eval_derived=False,
    )
    with joined(resolve_device(config.device)) as world:
        engine = SearchEngine(config, Path(folder) / "run", load_plugins(), Progress(False), world)
        wall, cpu = [], []
        for epoch in range(config.epochs):
            started, started_cpu = time.perf_counter(), time.process_time()
            engine._train_epoch(epoch)
            wall.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        steps = len(engine.batches.train_epoch(0))  # the search split's batches cycle alongside
    result = {"rank": rank, "steps": steps, "wall": wall[1:], "cpu": cpu[1:]}
    (Path(folder) / f"rank{rank}.json").write_text(json.dumps(result))


def measure(settings: dict[str, Any], processes: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as folder, socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        mp.start_processes(rank_worker, args=(processes, port, settings, folder), nprocs=processes,
                           start_method="spawn")
        return [json.loads((Path(folder) / f"rank{rank}.json").read_text()) for rank in range(processes)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=5, help="cells (the digits quickstart's 5)")
    parser.add_argument("--channels", type=int, default=8, help="initial channels (the quickstart's 8)")
    parser.add_argument("--batch-size", type=int, default=64, help="per process")
    parser.add_argument("--epochs", type=int, default=4, help="timed epochs + 1 warm-up epoch")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda for one GPU per process")
    parser.add_argument("--out", type=Path, default=Path("distributed_throughput.json"))
    args = parser.parse_args()

    installed = set(load_plugins().controllers())
    rows: list[dict[str, Any]] = []
    load_before = load_average()
    for name, controller, options, samples in WORKLOADS:
        if controller not in installed:
            print(f"skipping {name}: controller {controller!r} is not installed")
            continue
        settings = {"controller": controller, "options": options, "layers": args.layers,
                    "channels": args.channels, "batch_size": args.batch_size, "epochs": args.epochs + 1,
                    "threads": args.threads, "device": args.device}
        baseline = None
        for processes in (1, 2):
            ranks = measure(settings, processes)
            steps = ranks[0]["steps"]
            per_step = samples * math.ceil(processes / samples)
            images = steps * per_step * args.batch_size
            wall = statistics.median(ranks[0]["wall"])
            rank_cpu = [statistics.median(rank["cpu"]) for rank in ranks]
            cpu = sum(rank_cpu)
            throughput = images / wall
            baseline = baseline or throughput
            rows.append({
                "workload": name, "processes": processes, "steps_per_epoch": steps,
                "samples_per_step": per_step, "sample_images_per_epoch": images,
                "epoch_wall_seconds": ranks[0]["wall"], "median_epoch_wall_seconds": round(wall, 3),
                "epoch_cpu_seconds_per_rank": [rank["cpu"] for rank in ranks],
                "busiest_rank_median_epoch_cpu_seconds": round(max(rank_cpu), 3),
                "sample_images_per_second": round(throughput, 1),
                "cpu_ms_per_sample_image": round(1000 * cpu / images, 3),
                "speedup": round(throughput / baseline, 2),
            })
            print(f"{name}, {processes} process(es): {wall:.2f} s/epoch, {throughput:.0f} sample-images/s, "
                  f"{1000 * cpu / images:.2f} CPU ms per sample-image", flush=True)

    headers = ["workload", "processes", "steps/epoch", "samples/step", "s/epoch (wall, median)",
               "sample-images/s", "speed-up", "CPU s/epoch (busiest rank)", "CPU ms / sample-image"]
    table = markdown_table(headers, [
        [row["workload"], row["processes"], row["steps_per_epoch"], row["samples_per_step"],
         row["median_epoch_wall_seconds"], row["sample_images_per_second"], f"{row['speedup']:.2f}x",
         row["busiest_rank_median_epoch_cpu_seconds"], row["cpu_ms_per_sample_image"]] for row in rows
    ])
    print()
    print(table)
    save(args.out, {
        "benchmark": "distributed_throughput",
        "settings": {"layers": args.layers, "channels": args.channels, "batch_size": args.batch_size,
                     "timed_epochs": args.epochs, "threads_per_process": args.threads, "device": args.device,
                     "dataset": "digits"},
        "environment": environment(torch.device(args.device)),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "rows": rows,
        "table": table,
    })


if __name__ == "__main__":
    main()
