"""Measured latency of the published networks on this machine (issue #27, part 1), `nasplug latency`'s protocol.

Networks: a MobileNetV2-like network on the proxyless-mbv2 search skeleton (every block 3×3 MBConv6,
``benchmarks/genotypes/mobilenetv2_like.json``), the three released ProxylessNAS networks (GPU, CPU,
mobile) at 224×224 with 1000 classes, and MdeNAS's cell in the DARTS mobile setting (ImageNet 224×224,
14 cells, 48 channels) and in its CIFAR-10 network (32×32, 20 cells, 36 channels). Batch 1, fp32,
``--threads`` threads. Each network is timed in ``--rounds`` interleaved rounds of ``--runs`` timed runs
(after ``--warmup`` untimed ones each round), so a burst of load from other processes on a shared machine
spreads over all networks; its latency is the median over all its timed runs, its spread the IQR and the
min–max.

    python benchmarks/published_latency.py --threads 1 --out benchmarks/results/published_latency_cpu.json
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

from nasplug.networks.build import build_network
from nasplug.networks.latency import LatencyProtocol, device_name, measure_latency
from nasplug.plugin import load_plugins
from nasplug.runs.environment import environment_record
from nasplug.runs.files import write_json

NETWORKS = (
    ("MobileNetV2-like (3x3 MBConv6 everywhere)", "benchmarks/genotypes/mobilenetv2_like.json", "imagenet", {}),
    ("ProxylessNAS GPU", "proxyless_gpu", "imagenet", {}),
    ("ProxylessNAS CPU", "proxyless_cpu", "imagenet", {}),
    ("ProxylessNAS mobile", "proxyless_mobile", "imagenet", {}),
    ("MdeNAS cell, ImageNet mobile setting (14 cells, C=48)", "MDENAS", "imagenet", {"layers": 14, "channels": 48}),
    ("MdeNAS cell, CIFAR-10 network (20 cells, C=36)", "MDENAS", "cifar10", {"layers": 20, "channels": 36}),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    hooks = load_plugins()
    built = [(label, reference, build_network(reference, hooks=hooks, dataset=dataset, options=options))
             for label, reference, dataset, options in NETWORKS]
    times: list[list[float]] = [[] for _ in built]
    for round_ in range(args.rounds):
        for index, (_, _, network) in enumerate(built):
            protocol = LatencyProtocol(args.device, 1, "fp32", args.threads, network.data.input_size,
                                       args.warmup, args.runs)
            times[index] += measure_latency(network.module, network.data.in_channels, protocol).times_ms
        print(f"round {round_ + 1}/{args.rounds} done", flush=True)
    rows = []
    print("| network | input | median (ms) | IQR (ms) | min–max (ms) |\n| --- | --- | --- | --- | --- |")
    for (label, reference, network), measured in zip(built, times):
        q1, _, q3 = statistics.quantiles(measured, n=4, method="inclusive")
        row = {"network": label, "genotype": reference, "dataset": network.dataset,
               "input_size": network.data.input_size, "options": network.options, "unit": "ms",
               "median_ms": statistics.median(measured), "q1_ms": q1, "q3_ms": q3,
               "min_ms": min(measured), "max_ms": max(measured), "timed_runs": len(measured)}
        rows.append(row)
        print(f"| {label} | {row['input_size']}×{row['input_size']} | {row['median_ms']:.1f} | {q1:.1f}–{q3:.1f} | "
              f"{row['min_ms']:.1f}–{row['max_ms']:.1f} |")
    device = torch.device(args.device)
    write_json(args.out, {"batch_size": 1, "precision": "fp32", "threads": args.threads, "warmup": args.warmup,
                          "runs_per_round": args.runs, "rounds": args.rounds, "device_name": device_name(device),
                          "software": environment_record(args.threads, device, ()), "networks": rows})


if __name__ == "__main__":
    main()
